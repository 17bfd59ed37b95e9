/** The package version, injected by esbuild's `define` (see esbuild.config.ts). */
declare const __NOVA_KMS_VERSION__: string | undefined

export const PACKAGE_VERSION: string = typeof __NOVA_KMS_VERSION__ === 'string' ? __NOVA_KMS_VERSION__ : '0.0.0-dev'
