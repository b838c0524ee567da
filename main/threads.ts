import { engineThreadTask } from './engine/common/threads'
import { INGEST_TASK, runIngestWorker } from './engine/corpus/workers'
import { TOKENISE_TASK, runTokeniseThread } from './engine/training/tokenise'

/**
 * The engine's worker threads (out/main/threads.js; common/threads.ts starts them): each runs the
 * task its workerData names.
 */
const thread = engineThreadTask()
if (thread?.task === TOKENISE_TASK) void runTokeniseThread(thread.data)
else if (thread?.task === INGEST_TASK) runIngestWorker()
