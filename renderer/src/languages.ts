/** Suggestions for the target-language field; any BCP-47 tag is accepted. */
export interface LanguageChoice {
  code: string
  english: string
  native: string
}

export const COMMON_LANGUAGES: readonly LanguageChoice[] = [
  { code: 'hu', english: 'Hungarian', native: 'magyar' },
  { code: 'th', english: 'Thai', native: 'ไทย' },
  { code: 'am', english: 'Amharic', native: 'አማርኛ' },
  { code: 'ar', english: 'Arabic', native: 'العربية' },
  { code: 'bg', english: 'Bulgarian', native: 'български' },
  { code: 'cs', english: 'Czech', native: 'čeština' },
  { code: 'cy', english: 'Welsh', native: 'Cymraeg' },
  { code: 'de', english: 'German', native: 'Deutsch' },
  { code: 'el', english: 'Greek', native: 'Ελληνικά' },
  { code: 'et', english: 'Estonian', native: 'eesti' },
  { code: 'eu', english: 'Basque', native: 'euskara' },
  { code: 'fi', english: 'Finnish', native: 'suomi' },
  { code: 'ga', english: 'Irish', native: 'Gaeilge' },
  { code: 'hi', english: 'Hindi', native: 'हिन्दी' },
  { code: 'id', english: 'Indonesian', native: 'Bahasa Indonesia' },
  { code: 'is', english: 'Icelandic', native: 'íslenska' },
  { code: 'ja', english: 'Japanese', native: '日本語' },
  { code: 'ko', english: 'Korean', native: '한국어' },
  { code: 'pl', english: 'Polish', native: 'polski' },
  { code: 'ro', english: 'Romanian', native: 'română' },
  { code: 'ru', english: 'Russian', native: 'русский' },
  { code: 'sr', english: 'Serbian', native: 'српски' },
  { code: 'sw', english: 'Swahili', native: 'Kiswahili' },
  { code: 'ta', english: 'Tamil', native: 'தமிழ்' },
  { code: 'tr', english: 'Turkish', native: 'Türkçe' },
  { code: 'uk', english: 'Ukrainian', native: 'українська' },
  { code: 'vi', english: 'Vietnamese', native: 'Tiếng Việt' },
  { code: 'yo', english: 'Yoruba', native: 'Èdè Yorùbá' },
  { code: 'zu', english: 'Zulu', native: 'isiZulu' },
]

/** Lets people type a language's name ("Hungarian", "magyar") where a code is expected. */
export function resolveLanguageInput(input: string): string {
  const typed = input.trim().toLocaleLowerCase()
  const match = COMMON_LANGUAGES.find((l) => l.english.toLocaleLowerCase() === typed || l.native.toLocaleLowerCase() === typed)
  return match ? match.code : input
}
