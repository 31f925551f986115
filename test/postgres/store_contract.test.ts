/**
 * The store contract (`test/lib/storage/store_contract.ts`), the very tests the journal files pass, run
 * against the PostgreSQL stores: each test opens a database of its own, and a restart reconnects to it.
 */
import { openPostgres } from '../../lib/storage/postgres/open.ts';
import { runStoreContract, type StoreSettings, type Stores } from '../lib/storage/store_contract.ts';
import { POSTGRES_AVAILABLE, createTestDatabase, describeWithPostgres, type TestDatabase } from './database.ts';

async function openPostgresStores(database: TestDatabase, settings: StoreSettings): Promise<Stores> {
  // The contract moves its clock: the store decides at that time rather than the database's.
  const storage = await openPostgres(database.url, { ...settings, decisionTime: 'clock' });
  return {
    users: storage.users,
    sessions: storage.sessions,
    async reopen() {
      await storage.close();
      return openPostgresStores(database, settings);
    },
    async destroy() {
      await storage.close();
      await database.drop();
    },
  };
}

if (POSTGRES_AVAILABLE) {
  runStoreContract('PostgreSQL', async (settings) => openPostgresStores(await createTestDatabase(), settings));
} else {
  describeWithPostgres('store contract: PostgreSQL', () => {});
}
