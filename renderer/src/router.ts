import { createRouter, createWebHashHistory, type Router } from 'vue-router'
import HomeView from './views/HomeView.vue'
import NewProjectView from './views/NewProjectView.vue'
import ProjectView from './views/ProjectView.vue'
import SystemView from './views/SystemView.vue'

/** Hash history: the desktop app loads the renderer from file://, where paths cannot be routed. */
export function createAppRouter(): Router {
  return createRouter({
    history: createWebHashHistory(),
    routes: [
      { path: '/', name: 'home', component: HomeView },
      { path: '/new', name: 'new-project', component: NewProjectView },
      // The project folder travels in the query (`?dir=/abs/path`): it is a path, not an id.
      { path: '/project/:step?', name: 'project', component: ProjectView },
      { path: '/system', name: 'system', component: SystemView },
      { path: '/:unknown(.*)*', redirect: '/' },
    ],
    scrollBehavior: () => ({ top: 0 }),
  })
}
