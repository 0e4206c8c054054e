/** Node.js major version of the deployed functions; the runtime and the package's `engines` follow it. */
export const NODE_MAJOR = 22;

/** Cloud Functions runtime id of every function. */
export const RUNTIME = `nodejs${NODE_MAJOR}`;
