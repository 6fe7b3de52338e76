import { httpRoute } from '../commons/http.ts';
import { deleteDevice } from '../commons/operations.ts';
import { device } from '../core/validators.generated.js';

export const handler = httpRoute({ params: { device } }, ({ userId, params }) => deleteDevice(userId, params.device as string));
