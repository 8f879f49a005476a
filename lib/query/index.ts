// ubp.query: the prompts, the request a model gets, its answers, and what a run did.
export { listBatches } from './batch/ledger';
export { loadQueryInputs, loadResponses, storeDir } from './inputs';
export { modelAvailability } from './availability';
export { chatRequestBody, requestKey } from './llm';
export { renderPromptText } from './prompt';
export type { QueryRunSummary } from './runner';
