import { createPinia } from 'pinia'
import { createApp } from 'vue'
import { z } from 'zod'
import App from './App.vue'
import { connectFromBrowser } from './api/browser'
import { installApi } from './api/client'
import { createAppRouter } from './router'
import { useAppStore } from './stores/app'
import './styles.css'

// The CSP forbids eval: keep zod from probing `new Function` (which the browser reports as a violation).
z.config({ jitless: true })

installApi(connectFromBrowser())

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(createAppRouter())

// Anything that escapes a view's own error handling ends up in the error banner.
const appStore = useAppStore(pinia)
app.config.errorHandler = (error) => {
  console.error(error)
  appStore.reportError(error)
}
window.addEventListener('unhandledrejection', (event) => {
  console.error(event.reason)
  appStore.reportError(event.reason)
})

app.mount('#app')
