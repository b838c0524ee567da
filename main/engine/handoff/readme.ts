/** The README.md of a hand-off bundle: what is in it, how to run it, and what was verified where. */
import type { HandoffRecord } from './bundle'
import { LLAMAFACTORY_VERSION, trainYaml } from './llamafactory'

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`
const num = (n: number) => n.toLocaleString('en-US')

function settingsTable(r: HandoffRecord): string {
  const s = r.settings
  const rows: [string, string][] = [
    ['sequence length', `${s.sequenceLength} tokens`],
    ['micro-batch', `${s.batchSize} sequences`],
    ['gradient accumulation', `${s.gradientAccumulation} micro-batches`],
    ['tokens per optimizer step', num(s.batchSize * s.sequenceLength * s.gradientAccumulation)],
    ['optimizer steps', num(s.steps)],
    ['learning rate', `${s.learningRate}, linear warm-up over ${r.schedule.warmupSteps} steps, cosine to ${pct(r.schedule.floorRatio)} of it`],
    ['weight decay', `${s.weightDecay} (matrices only; embeddings, biases and norms do not decay)`],
    ['AdamW', `β = (${r.optimizer.beta1}, ${r.optimizer.beta2}), ε = ${r.optimizer.eps}, gradients clipped to norm ${r.optimizer.maxGradNorm}`],
    ['embedding-only first steps', String(s.embeddingOnlySteps)],
    ['document masking', s.documentMasking ? 'on (attention within each document; positions restart)' : 'off'],
    ['English replay', `${pct(r.englishShare)} of the sequences (and so of the tokens)`],
    ['seed', String(s.seed)],
    ['checkpoint every', `${s.checkpointEvery} steps`],
  ]
  return ['| setting | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n')
}

function dataSection(r: HandoffRecord): string {
  const line = (role: 'target' | 'english') => {
    const d = r.data[role]
    return d ? `| \`${d.file}\` | ${num(d.documents)} | ${num(d.tokens)} | ${num(d.bytes)} |` : null
  }
  return [
    '## Data',
    '',
    '| file | documents | tokens | bytes of text |',
    '| --- | --- | --- | --- |',
    line('target'),
    line('english'),
    '',
    `Token files as Vernacular's trainer reads them (format, generator and mixing: the docstring of`,
    '`vernacular_data.py`, which implements them). Tokenised with `model/tokenizer.json`, vocabulary',
    `fingerprint \`${r.tokenizer.fingerprint.slice(0, 16)}…\`; corpus fingerprint \`${r.corpus.fingerprint.slice(0, 16)}…\` (both in full in`,
    '`vernacular-run.json`). Documents are separated by the EOS token, id ' + r.eos + '.',
  ]
    .filter((l) => l !== null)
    .join('\n')
}

const BRING_BACK = (r: HandoffRecord, folder: string) => `## Bringing the checkpoints back

Copy \`${folder}\` back to the machine with the project and run

    vernacular runs import PROJECT ${folder} --run ${r.run}-cluster

Folders named \`step-<n>\`, \`checkpoint-<n>\` or \`global_step<n>\` become checkpoints of that run;
their checksums are computed on import, and a checkpoint whose tokenizer is not this bundle's is
refused. The Compare step then evaluates and compares them like the project's own runs.`

function fsdpReadme(r: HandoffRecord): string {
  return `## Running it (PyTorch FSDP)

    python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
    ./launch.sh --nproc-per-node 1                 # one GPU
    ./launch.sh --nproc-per-node 8                 # eight GPUs of this machine
    ./launch.sh --nproc-per-node 8 --nnodes 4 --node-rank R --rdzv-endpoint HOST:29500   # on each of 4 nodes
    sbatch slurm.sbatch                            # Slurm: edit the node and GPU counts first
    ./launch.sh --nproc-per-node 1 -- --steps 50   # a short first run (arguments after -- go to train.py)

\`train.py\` writes \`output/metrics.jsonl\` (a line per step: loss per language, learning rate,
gradient norm, tokens per second) and \`output/checkpoints/step-<n>/\`, Hugging Face folders.

What is ours and what is FSDP's: \`train.py\` reads the token files, mixes the languages and packs
documents exactly as Vernacular's own trainer does (\`vernacular_data.py\`), and writes checkpoints;
sharding (FULL_SHARD), bf16 mixed precision (parameters and activations in bf16, gradients reduced
in float32), activation checkpointing of each block and the multi-node rendezvous are PyTorch's.

**GPUs and the batch.** A step is always the plan's ${num(r.settings.gradientAccumulation)} micro-batches of ${num(r.settings.batchSize)}
sequences: micro-batch *a* of each step goes to GPU *a* mod *N*, so the tokens per step and their
order are the same on any number of GPUs, and *N* must divide the gradient accumulation (${r.settings.gradientAccumulation}).
For more GPUs, hand the run off again with a larger \`--grad-accum\` (and a smaller \`--batch\` to
keep the tokens per step).

Not carried over: resuming (a checkpoint holds the weights, not the optimizer's moments; restart
with \`--steps\` from a checkpoint's model if a job dies) and the held-out evaluation during training
(import the checkpoints and evaluate them in Vernacular).

## What was verified, and where

- **In Vernacular's CI (no GPU, Debian's torch 1.13, no \`transformers\`):** \`vernacular_data.py\` gives
  the local trainer's batches token for token (inputs, targets, segments, positions, loss weights
  and languages) for the first 100 steps; and \`train.py --no-fsdp --device cpu\`, with a small
  GPT-2 written for the test in place of \`transformers\`, gives the local trainer's losses within
  1e-4 for 20 steps (same data, same weights, same AdamW and schedule).
- **Not run:** FSDP, \`transformers\` and CUDA. The FSDP and \`transformers\` code was written against
  the versions in \`requirements.txt\` (torch 2.4–2.5, transformers 4.46) and has not been executed
  by Vernacular's tests, which have no GPU. Run the 50-step smoke test above first.

${BRING_BACK(r, 'output')}`
}

function llamaFactoryReadme(r: HandoffRecord): string {
  const { probs } = trainYaml(r)
  const replay = probs
    ? `LLaMA-Factory mixes by *document*: \`interleave_under\` picks each next document from a dataset
with the probabilities of \`interleave_probs\`, and packing follows. Our trainer picks each
*sequence's* language. So that ${pct(r.englishShare)} of the tokens are still English, the probabilities are
set by the mean document length of each language (target ${((r.data.target!.tokens + r.data.target!.documents) / Math.max(1, r.data.target!.documents)).toFixed(1)}, English ${((r.data.english!.tokens + r.data.english!.documents) / Math.max(1, r.data.english!.documents)).toFixed(1)} tokens with EOS):
${pct(probs.english)} of the documents are English. \`interleave_under\` stops when the first
dataset runs out (it does not start a new epoch as ours does).`
    : 'The run has no English replay: one dataset.'
  return `## Running it (LLaMA-Factory ${LLAMAFACTORY_VERSION})

    python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
    ./launch.sh                                               # every GPU of this machine
    ./launch.sh --nnodes 2 --node-rank R --master-addr HOST   # on each node

\`train.yaml\` uses only keys LLaMA-Factory 0.9 documents: stage \`pt\`, full fine-tuning of
\`model/\`, packing to ${r.settings.sequenceLength} tokens${r.settings.documentMasking ? ' with `neat_packing` (attention within each document)' : ''}, DeepSpeed ZeRO-3
(\`ds_z3_config.json\`, which gathers whole bf16 weights into each checkpoint), and our optimizer
settings. The text of each language is in \`data/<language>.jsonl\` (\`{"text": …}\` a line, the
documents the token files hold); LLaMA-Factory tokenises it again with \`model/\`'s tokenizer.

## What differs from Vernacular's own trainer

- **Replay.** ${replay}
- **The exact data order** is not reproduced: LLaMA-Factory shuffles and mixes with its own seed.
  For the exact order, hand off to \`--target fsdp\`; the token files and \`vernacular_data.py\` are
  here too, for checking what was trained on.
- **Learning rate:** \`cosine\` decays to 0; ours stops at ${pct(r.schedule.floorRatio)} of the peak (Hugging Face's
  \`cosine_with_min_lr\` needs \`lr_scheduler_kwargs\`, which is not among the keys used here).
- **Weight decay:** the Trainer decays every weight but biases and norms, the embeddings included;
  ours leaves the embeddings alone.
- **Embedding-only first steps** (${r.settings.embeddingOnlySteps} here) have no equivalent.
- **Tokens per step** multiply by the number of GPUs (\`per_device_train_batch_size\`).

## What was verified, and where

The YAML's keys are checked against the list above in Vernacular's CI, and the JSONL against the
corpus. LLaMA-Factory itself was **not run** by Vernacular's tests (no GPU, no network).

${BRING_BACK(r, 'output')}`
}

export function bundleReadme(r: HandoffRecord): string {
  const target = r.target === 'fsdp' ? 'PyTorch FSDP (torchrun)' : `LLaMA-Factory ${LLAMAFACTORY_VERSION}`
  return `# ${r.project.name}: run "${r.run}" for ${target}

Written by Vernacular ${r.vernacular} on ${r.createdAt.slice(0, 10)}. Continual pretraining of a
${r.model.modelType} model (${num(r.model.parameters)} parameters, ${num(r.model.vocabRows)} embedding rows) on
${r.project.language} text with ${pct(r.englishShare)} English replay. Everything the run needs is in this folder:

| path | what |
| --- | --- |
| \`model/\` | the model the run starts from: the base resized for the extended tokenizer (\`model/tokenizer.json\`) |
| \`data/*.tokens\` | the training text as token files, one per language |
| \`vernacular_data.py\` | reads them and mixes them as Vernacular's trainer does |
| \`vernacular-run.json\` | the run's settings, optimizer, schedule and fingerprints |
${
  r.target === 'fsdp'
    ? '| `train.py` | the training driver |\n| `launch.sh`, `slurm.sbatch` | torchrun on one GPU, N GPUs or several nodes; a Slurm example |\n| `requirements.txt` | the Python packages |'
    : '| `train.yaml`, `ds_z3_config.json` | the LLaMA-Factory run and its DeepSpeed ZeRO-3 config |\n| `data/dataset_info.json`, `data/*.jsonl` | the datasets as LLaMA-Factory reads them |\n| `launch.sh`, `requirements.txt` | how to start it, the Python packages |'
}

## The run

${settingsTable(r)}

${dataSection(r)}

${r.target === 'fsdp' ? fsdpReadme(r) : llamaFactoryReadme(r)}
`
}
