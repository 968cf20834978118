import { authStoreContract } from './auth-store-contract.js';
import { MemoryAuthStore } from './memory-auth-store.js';

authStoreContract('memory', async () => new MemoryAuthStore());
