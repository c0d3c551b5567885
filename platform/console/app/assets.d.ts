// Stylesheets are bundled by esbuild (scripts/build-console.ts); TypeScript only needs to know they exist.
declare module '*.css';
