/** Path helpers for suggestions only; the engine resolves and checks every path it is given. */

/** A folder name from a project name: "Magyar Llama 2" → "magyar-llama-2". Keeps letters of any script. */
export function slug(name: string): string {
  const words = name
    .normalize('NFKC')
    .toLocaleLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
  const short = words.slice(0, 60).replace(/-+$/, '')
  return short || 'new-project'
}

/** Joins a folder and one name with the folder's own separator (so Windows paths stay Windows paths). */
export function joinPath(dir: string, name: string): string {
  if (dir === '') return name
  const separator = dir.includes('\\') && !dir.includes('/') ? '\\' : '/'
  const trimmed = dir.replace(/[\\/]+$/, '')
  return trimmed === '' ? `${separator}${name}` : `${trimmed}${separator}${name}`
}
