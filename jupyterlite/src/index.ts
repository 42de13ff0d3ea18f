// The JupyterLite plugin: registers the kernel "Lua 5.4 (WASM)", and routes
// the stop button to it (JupyterLite's kernel client only cancels queued cells).

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { IKernelClient, IKernelSpecs } from '@jupyterlite/services';
import type { IKernel } from '@jupyterlite/services';

import { LuaKernel } from './kernel';

const MEMORY_SIZE_DEFAULT_BYTES = 2 * 1024 * 1024;
const kernels = new Map<string, LuaKernel>();

/** The URL of a folder of the site's files/ (the default drive only), ending in '/'. */
function filesUrl(location: string): string | null {
  if (location.includes(':')) {
    return null; // another drive: not served as files
  }
  const base = new URL(PageConfig.getBaseUrl(), self.location.href);
  const folder = location.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  return new URL(`files/${folder}${folder ? '/' : ''}`, base).href;
}

function memoryLimit(): number {
  const option = Number(PageConfig.getOption('luaWasmMemoryLimit'));
  return Number.isInteger(option) && option > 0 ? option : MEMORY_SIZE_DEFAULT_BYTES;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@lua-wasm/jupyterlite-kernel:kernel',
  autoStart: true,
  requires: [IKernelSpecs],
  optional: [IKernelClient],
  activate: (app: JupyterFrontEnd, kernelspecs: IKernelSpecs, client: IKernelClient | null) => {
    if (client) {
      const interrupt = client.interrupt.bind(client);
      client.interrupt = async (id: string) => {
        kernels.get(id)?.interrupt();
        return interrupt(id);
      };
    }
    kernelspecs.register({
      spec: {
        name: 'lua-wasm',
        display_name: 'Lua 5.4 (WASM)',
        language: 'lua',
        argv: [],
        resources: { 'logo-32x32': '', 'logo-64x64': '' }
      },
      create: async (options: IKernel.IOptions): Promise<IKernel> => {
        // External tables are kept per notebook: JupyterLab names a session by
        // a random path and the document's name, so the key is the kernel's
        // folder and that name (the folder alone for a console).
        const notebookPath = async (): Promise<string> => {
          try {
            const sessions = (app as any)?.serviceManager?.sessions;
            await sessions?.refreshRunning?.();
            for (const model of sessions?.running?.() ?? []) {
              if (model.kernel?.id === options.id && model.type === 'notebook' && model.name) {
                return `${options.location}/${model.name}`;
              }
            }
          } catch (e) {
            console.warn('lua-wasm: no session for this kernel; external tables are kept per folder', e);
          }
          return options.location;
        };
        const kernel = new LuaKernel({ ...options, memoryBytes: memoryLimit(), filesUrl: filesUrl(options.location), notebookPath });
        kernels.set(options.id, kernel);
        kernel.disposed.connect(() => kernels.delete(options.id));
        return kernel;
      }
    });
  }
};

export default [plugin];
