/**
 * The store contract (`store_contract.ts`) run against the journal-backed stores of `lib/storage/`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { JsonUserStore } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { runStoreContract, type StoreSettings, type Stores } from './store_contract.ts';

async function openJournalStores(dataDir: string, settings: StoreSettings): Promise<Stores> {
  const users = await JsonUserStore.open(dataDir, { clock: settings.clock, log: silentLogger });
  const sessions = await JsonSessionStore.open(dataDir, { ...settings, log: silentLogger });
  return {
    users,
    sessions,
    async reopen() {
      await Promise.all([users.close(), sessions.close()]);
      return openJournalStores(dataDir, settings);
    },
    async destroy() {
      await Promise.all([users.close(), sessions.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

runStoreContract('the journal files', async (settings) => openJournalStores(await mkdtemp(path.join(tmpdir(), 'store-contract-')), settings));
