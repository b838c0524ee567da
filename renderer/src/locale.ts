/** The UI locale: the one the browser or the operating system reports. */
export const uiLocale: string = typeof navigator !== 'undefined' && navigator.language ? navigator.language : 'en'
