import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import type { EngineEvent, PreloadBridge, WireReply } from '../main/engine/contract'

/**
 * The only thing the sandboxed renderer gets from the desktop shell: `window.vernacular`, a call
 * function and an event subscription. No Node, no Electron objects, no raw ipcRenderer.
 */
const bridge: PreloadBridge = {
  invoke: (method: string, params: unknown) => ipcRenderer.invoke('vernacular:call', method, params) as Promise<WireReply>,
  onEvent(listener: (event: EngineEvent) => void) {
    const wrapped = (_e: IpcRendererEvent, event: EngineEvent) => listener(event)
    ipcRenderer.on('vernacular:event', wrapped)
    return () => {
      ipcRenderer.removeListener('vernacular:event', wrapped)
    }
  },
}

contextBridge.exposeInMainWorld('vernacular', bridge)
