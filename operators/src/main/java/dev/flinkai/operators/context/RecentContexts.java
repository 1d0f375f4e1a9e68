package dev.flinkai.operators.context;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The contexts of the most recently active users of one subtask, on the heap in front of the keyed state, written
 * back: an event of a user held here updates the context in memory only, and the keyed state is written when the
 * user is evicted or at {@link #writeBackAll}, which the operator calls before every checkpoint. Several events of a
 * user between two checkpoints then cost one RocksDB read and one write instead of one of each per event.
 *
 * <p>Nothing here is snapshotted: after {@code writeBackAll} the keyed state holds every update, so a restore or a
 * rescale starts with an empty cache and loses nothing. Bounded by a user count, least recently used out.
 *
 * <p>TTL (the state's, processing time): an entry last updated at least {@code ttl} ago is dropped and never written,
 * exactly as if the keyed state had expired it; its older copy in the keyed state, if any, has expired too. A
 * written-back context carries the time of the write-back, so in the keyed state it lives up to one checkpoint
 * interval longer than {@code ttl} after the user's last event.
 *
 * <p>Once full, an evicted entry (with its context object) is reused for the next user admitted; only the map's node
 * and the key string are new per admission. Cached contexts live long enough to reach the old generation, and with a
 * fresh context per admission the collector's work took 13 % of the TaskManager's CPU.
 */
final class RecentContexts {

    /** Where written-back contexts go: the keyed state of {@code user}. */
    interface StateWriter {
        void write(String user, UserContext context) throws Exception;
    }

    private static final class Entry {
        final UserContext context;
        long updatedMillis;
        boolean dirty;

        Entry(UserContext context) {
            this.context = context;
        }
    }

    private final int maxUsers;
    private final long ttlMillis;
    /** Access order: get() moves an entry to the young end; the eldest is the least recently used. */
    private final LinkedHashMap<String, Entry> byUser;
    /** The last entry evicted or dropped, its context to be reused by the next admit(). */
    private Entry spare;

    RecentContexts(int maxUsers, long ttlMillis) {
        if (maxUsers < 1) {
            throw new IllegalArgumentException("maxUsers must be at least 1, was " + maxUsers);
        }
        this.maxUsers = maxUsers;
        this.ttlMillis = ttlMillis;
        this.byUser = new LinkedHashMap<>(Math.min(maxUsers, 1 << 16), 0.75f, true);
    }

    /**
     * The user's context, to be updated by the caller at {@code nowMillis}, if held and not expired; otherwise null.
     * The returned context will be written back.
     */
    UserContext getForUpdate(String user, long nowMillis) {
        Entry entry = byUser.get(user);
        if (entry == null) {
            return null;
        }
        if (expired(entry, nowMillis)) {
            spare = byUser.remove(user);
            return null;
        }
        entry.updatedMillis = nowMillis;
        entry.dirty = true;
        return entry.context;
    }

    /**
     * Holds {@code stored} (the user's context read from the keyed state, or a new one), evicting the least recently
     * used user if full, and returns the context the caller is to update at {@code nowMillis}: a copy of
     * {@code stored} in a reused object once the cache is full. The caller must not use {@code stored} afterwards.
     */
    UserContext admit(String user, UserContext stored, long nowMillis, StateWriter writer) throws Exception {
        if (byUser.size() >= maxUsers) {
            Iterator<Map.Entry<String, Entry>> eldest = byUser.entrySet().iterator();
            Map.Entry<String, Entry> evicted = eldest.next();
            eldest.remove();
            writeBack(evicted.getKey(), evicted.getValue(), nowMillis, writer);
            spare = evicted.getValue();
        }
        Entry entry;
        if (spare != null) {
            entry = spare;
            spare = null;
            entry.context.copyFrom(stored);
        } else {
            entry = new Entry(stored);
        }
        entry.updatedMillis = nowMillis;
        entry.dirty = true;
        byUser.put(user, entry);
        return entry.context;
    }

    /** Writes every updated context to the keyed state; they stay cached. Expired ones are dropped instead. */
    void writeBackAll(long nowMillis, StateWriter writer) throws Exception {
        for (Iterator<Map.Entry<String, Entry>> it = byUser.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Entry> e = it.next();
            if (expired(e.getValue(), nowMillis)) {
                it.remove();
            } else {
                writeBack(e.getKey(), e.getValue(), nowMillis, writer);
            }
        }
    }

    int size() {
        return byUser.size();
    }

    private void writeBack(String user, Entry entry, long nowMillis, StateWriter writer) throws Exception {
        if (entry.dirty && !expired(entry, nowMillis)) {
            writer.write(user, entry.context);
        }
        entry.dirty = false;
    }

    private boolean expired(Entry entry, long nowMillis) {
        return nowMillis - entry.updatedMillis >= ttlMillis;
    }
}
