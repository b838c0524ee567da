/// <reference types="vite/client" />
import type { PreloadBridge } from '../../main/engine/contract'

declare global {
  interface Window {
    /** Exposed by the desktop preload with `contextBridge`; absent in web mode. */
    vernacular?: PreloadBridge
  }
}
