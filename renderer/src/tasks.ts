/** Pure helpers of the Tasks panel (the project's multiple-choice tasks in the Compare step). */
import type { ProjectTask } from '../../main/engine/contract'

/** What the engine accepts as a task name (`eval.addTask`). */
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/**
 * The name a task file is added under, as the engine chooses it: the name given, else the file's
 * name without `.jsonl` (either kind of path separator). Null when there is nothing to name it by.
 */
export function taskNameFor(file: string, name: string): string | null {
  const given = name.trim()
  if (given !== '') return given
  const base = file.trim().replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? ''
  const stem = base.replace(/\.jsonl$/i, '')
  return stem === '' ? null : stem
}

/** Why a typed name cannot name a task, in words; null when it can (or none is typed). */
export function taskNameProblem(name: string): string | null {
  const given = name.trim()
  if (given === '' || TASK_NAME.test(given)) return null
  return 'A task name has letters, digits, dots, dashes and underscores (at most 64), starting with a letter or digit.'
}

/** The task of that name among the project's, if any. */
export function findTask(tasks: readonly ProjectTask[], name: string | null): ProjectTask | null {
  return name === null ? null : (tasks.find((t) => t.name === name) ?? null)
}
