import { version } from '../../../package.json'

/** The version of Vernacular, as package.json has it. */
export const VERNACULAR_VERSION: string = version
