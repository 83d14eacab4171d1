import preact from '@preact/preset-vite'
import { defineConfig } from 'wxt'
import { extensionManifest } from './extension/extension-manifest.ts'

// Build: `npx wxt build` (Chrome MV3 -> .output/chrome-mv3); `npx wxt build -b firefox --mv3`.
export default defineConfig({
  srcDir: 'extension',
  publicDir: 'extension/public',
  outDir: '.output',
  imports: false,
  manifest: ({ browser }) => extensionManifest(browser),
  vite: () => ({ plugins: [preact()] })
})
