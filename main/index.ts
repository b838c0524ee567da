import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell, utilityProcess, type WebContents } from 'electron'
import { Engine } from './engine/api/engine'
import { resourcesDir } from './engine/common/resources'
import type { WireReply } from './engine/contract'
import type { WorkerEvent, WorkerRequest, WorkerSpawner } from './engine/training/worker'

/**
 * The desktop shell: one window, the IPC wiring to the engine and the security settings the
 * Electron documentation recommends. Everything else lives in the engine, which web mode and the
 * CLI share; keep this file thin.
 */

const RENDERER_URL = process.env.ELECTRON_RENDERER_URL // set by `electron-vite dev`
const RENDERER_FILE = join(__dirname, '../renderer/index.html')
const PRELOAD_FILE = join(__dirname, '../preload/index.js')

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  RENDERER_URL ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'", // the dev server injects styles
  "img-src 'self' data:",
  "font-src 'self'",
  RENDERER_URL ? `connect-src 'self' ${new URL(RENDERER_URL).origin.replace('http', 'ws')}` : "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Is this URL our own renderer (the built file or the dev server)? */
function isAppUrl(url: string): boolean {
  if (RENDERER_URL) return url.startsWith(new URL(RENDERER_URL).origin + '/')
  return url.split('#')[0] === pathToFileURL(RENDERER_FILE).href
}

let mainWindow: BrowserWindow | null = null

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    title: 'Vernacular',
    icon: join(resourcesDir(), 'icons', 'icon.png'),
    show: false,
    webPreferences: {
      preload: PRELOAD_FILE,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  })
  win.once('ready-to-show', () => win.show())
  if (RENDERER_URL) void win.loadURL(RENDERER_URL)
  else void win.loadFile(RENDERER_FILE)
  return win
}

/** Navigation and new windows are blocked; http(s) links open in the user's browser. */
function lockDown(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault()
  })
  contents.on('will-attach-webview', (event) => event.preventDefault())
  contents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url)
    return { action: 'deny' }
  })
}

function buildMenu(): void {
  const isMac = process.platform === 'darwin'
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      ...(isMac ? [{ role: 'appMenu' as const }] : []),
      { role: 'fileMenu' },
      { role: 'editMenu' },
      { role: 'viewMenu' },
      { role: 'windowMenu' },
    ]),
  )
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }
  await app.whenReady()

  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } })
  })
  app.on('web-contents-created', (_e, contents) => lockDown(contents))

  const engine = new Engine({
    mode: 'desktop',
    spawnWorker: utilityWorker,
    shell: {
      async pickDirectory({ title, defaultPath }) {
        const options = { title: title ?? 'Choose a folder', properties: ['openDirectory' as const, 'createDirectory' as const], ...(defaultPath ? { defaultPath } : {}) }
        const r = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options)
        return r.canceled ? null : (r.filePaths[0] ?? null)
      },
      async revealPath(path) {
        shell.showItemInFolder(path)
      },
    },
  })

  // Every payload is validated by the engine against the contract before anything runs.
  ipcMain.handle('vernacular:call', async (event, method: unknown, params: unknown): Promise<WireReply> => {
    if (!event.senderFrame || !isAppUrl(event.senderFrame.url)) {
      return { kind: 'reply', id: null, ok: false, error: { code: 'invalid-request', message: 'IPC from an unexpected page was refused.' } }
    }
    return engine.handle({ id: 0, method, params })
  })
  engine.onEvent((e) => {
    for (const w of BrowserWindow.getAllWindows()) w.webContents.send('vernacular:event', e)
  })

  buildMenu()
  mainWindow = createWindow()
  app.on('second-instance', () => {
    if (mainWindow?.isMinimized()) mainWindow.restore()
    mainWindow?.focus()
  })
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow()
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
  app.on('before-quit', () => {
    void engine.close()
  })
}

/**
 * The training worker in the desktop app: Electron's utilityProcess running out/main/worker.js.
 * Electron cannot be launched in CI, so this adapter is untested there; it is kept to these lines,
 * and the worker and its protocol are tested with Node's child_process (main/spawn.ts).
 */
const utilityWorker: WorkerSpawner = () => {
  const child = utilityProcess.fork(join(__dirname, 'worker.js'), [], { serviceName: 'Vernacular training' })
  return {
    send: (m: WorkerRequest) => child.postMessage(m),
    onMessage: (listener) => void child.on('message', (m) => listener(m as WorkerEvent)),
    onExit: (listener) => void child.on('exit', (code) => listener(code, null)),
    kill: () => void child.kill(),
  }
}

void start()
