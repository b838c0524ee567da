import { describe, expect, it } from 'vitest'
import type { ProjectTask } from '../../main/engine/contract'
import { findTask, taskNameFor, taskNameProblem } from '../../renderer/src/tasks'

describe('the Tasks panel helpers', () => {
  it('names a task as the engine does: the name given, else the file name without .jsonl', () => {
    expect(taskNameFor('/data/belebele/hun_Latn.jsonl', '')).toBe('hun_Latn')
    expect(taskNameFor('C:\\tasks\\hu-cloze.JSONL', '')).toBe('hu-cloze')
    expect(taskNameFor('/data/task.txt', '')).toBe('task.txt')
    expect(taskNameFor('/data/x.jsonl', '  mine ')).toBe('mine')
    expect(taskNameFor('', '')).toBeNull()
    expect(taskNameFor('/data/', '')).toBe('data')
  })

  it('says why a typed name cannot name a task', () => {
    expect(taskNameProblem('')).toBeNull()
    expect(taskNameProblem('hu-cloze_2.v1')).toBeNull()
    expect(taskNameProblem('-hu')).toContain('letters, digits')
    expect(taskNameProblem('a b')).toContain('letters, digits')
    expect(taskNameProblem('x'.repeat(65))).toContain('at most 64')
  })

  it('finds a task by name', () => {
    const tasks: ProjectTask[] = [
      { name: 'en-cloze', file: '/p/tasks/en-cloze.jsonl', items: 300, error: null },
      { name: 'hu-cloze', file: '/p/tasks/hu-cloze.jsonl', items: null, error: 'line 2: not valid JSON.' },
    ]
    expect(findTask(tasks, 'hu-cloze')?.error).toContain('line 2')
    expect(findTask(tasks, 'th-cloze')).toBeNull()
    expect(findTask(tasks, null)).toBeNull()
  })
})
