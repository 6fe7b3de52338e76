// Entry of the stream consumer's worker thread. Worker threads on Node 20 do
// not apply an inherited `--import tsx` to their entry, so register tsx here
// and load the TypeScript consumer through it.
import { register } from 'tsx/esm/api';

register();
await import('./consumer.ts');
