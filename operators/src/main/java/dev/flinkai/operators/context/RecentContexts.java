package dev.flinkai.operators.context;

import java.util.Arrays;

/**
 * The contexts of the most recently active users of one subtask, on the heap in front of the keyed state, written
 * back: an event of a user held here updates the context in memory only, and the keyed state is written when the
 * user is evicted or at {@link #writeBackAll}, which the operator calls before every checkpoint. Several events of a
 * user between two checkpoints then cost one RocksDB read and one write instead of one of each per event.
 *
 * <p>Nothing here is snapshotted: after {@code writeBackAll} the keyed state holds every update, so a restore or a
 * rescale starts with an empty cache and loses nothing. Bounded by a user count; eviction by the CLOCK rule (a user
 * used since the hand last passed gets a second chance, a user admitted and not used again goes first).
 *
 * <p>TTL (the state's, processing time): an entry last updated at least {@code ttl} ago is dropped and never written,
 * exactly as if the keyed state had expired it. A written-back context carries the time of the write-back, so in the
 * keyed state it lives up to one checkpoint interval longer than {@code ttl} after the user's last event.
 *
 * <p>Why arrays and reused slots rather than a map: cached data lives long enough to reach the old generation, so
 * anything allocated per admitted user becomes old garbage; here only a written-back user's key string is new, and
 * it dies young (deploy/bench/RESULTS.md has the GC and lookup figures).
 */
final class RecentContexts {

    /** Where written-back contexts go: the keyed state of {@code user}. */
    interface StateWriter {
        void write(String user, UserContext context) throws Exception;
    }

    private static final int FREE = -1;

    private final int capacity;
    private final long ttlMillis;

    // Index: linear probing over a power-of-two table at most half full. Bucket value: slot + 1, 0 = empty.
    private final int[] slotOfBucket;
    private final int[] hashOfBucket;
    private final int mask;

    // Slots: one cached user each.
    private final char[][] userChars;
    private final int[] userLength;
    private final int[] bucketOfSlot; // FREE when the slot holds no user
    private final UserContext[] contexts;
    private final long[] updatedMillis;
    private final boolean[] dirty;
    private final boolean[] usedSinceHand;

    private int slotsEverUsed;
    private final int[] freeSlots;
    private int freeCount;
    private int size;
    private int hand;

    RecentContexts(int maxUsers, long ttlMillis) {
        if (maxUsers < 1) {
            throw new IllegalArgumentException("maxUsers must be at least 1, was " + maxUsers);
        }
        this.capacity = maxUsers;
        this.ttlMillis = ttlMillis;
        int buckets = Integer.highestOneBit(Math.max(2, maxUsers) * 2 - 1) << 1;
        slotOfBucket = new int[buckets];
        hashOfBucket = new int[buckets];
        mask = buckets - 1;
        userChars = new char[maxUsers][];
        userLength = new int[maxUsers];
        bucketOfSlot = new int[maxUsers];
        Arrays.fill(bucketOfSlot, FREE);
        contexts = new UserContext[maxUsers];
        updatedMillis = new long[maxUsers];
        dirty = new boolean[maxUsers];
        usedSinceHand = new boolean[maxUsers];
        freeSlots = new int[maxUsers];
    }

    /**
     * The user's context, to be updated by the caller at {@code nowMillis}, if held and not expired; otherwise null.
     * The returned context will be written back.
     */
    UserContext getForUpdate(String user, long nowMillis) {
        int bucket = find(user, hash(user));
        if (bucket < 0) {
            return null;
        }
        int slot = slotOfBucket[bucket] - 1;
        if (expired(slot, nowMillis)) {
            forget(slot);
            return null;
        }
        updatedMillis[slot] = nowMillis;
        dirty[slot] = true;
        usedSinceHand[slot] = true;
        return contexts[slot];
    }

    /**
     * Holds {@code stored} (the user's context read from the keyed state, or a new one), evicting a user if full, and
     * returns the context the caller is to update at {@code nowMillis}: once the cache is full a copy of
     * {@code stored} in a reused object. The caller must not use {@code stored} afterwards, nor admit a user it holds.
     */
    UserContext admit(String user, UserContext stored, long nowMillis, StateWriter writer) throws Exception {
        int slot;
        if (freeCount > 0) {
            slot = freeSlots[--freeCount];
        } else if (slotsEverUsed < capacity) {
            slot = slotsEverUsed++;
        } else {
            slot = evictOne(nowMillis, writer);
        }
        int length = user.length();
        char[] chars = userChars[slot];
        if (chars == null || chars.length < length) {
            chars = userChars[slot] = new char[Math.max(16, length)];
        }
        user.getChars(0, length, chars, 0);
        userLength[slot] = length;
        if (contexts[slot] == null) {
            contexts[slot] = stored;
        } else {
            contexts[slot].copyFrom(stored);
        }
        updatedMillis[slot] = nowMillis;
        dirty[slot] = true;
        usedSinceHand[slot] = false; // admitted, not yet used again: the first to go
        int h = hash(user);
        int bucket = h & mask;
        while (slotOfBucket[bucket] != 0) {
            bucket = (bucket + 1) & mask;
        }
        slotOfBucket[bucket] = slot + 1;
        hashOfBucket[bucket] = h;
        bucketOfSlot[slot] = bucket;
        size++;
        return contexts[slot];
    }

    /** Writes every updated context to the keyed state; they stay cached. Expired ones are dropped instead. */
    void writeBackAll(long nowMillis, StateWriter writer) throws Exception {
        for (int slot = 0; slot < slotsEverUsed; slot++) {
            if (bucketOfSlot[slot] == FREE) {
                continue;
            }
            if (expired(slot, nowMillis)) {
                forget(slot);
            } else {
                writeBack(slot, nowMillis, writer);
            }
        }
    }

    int size() {
        return size;
    }

    /** The CLOCK hand passes users used since its last pass (clearing the mark) and takes the first one that is not. */
    private int evictOne(long nowMillis, StateWriter writer) throws Exception {
        while (true) {
            int slot = hand;
            hand = hand + 1 == capacity ? 0 : hand + 1;
            if (usedSinceHand[slot]) {
                usedSinceHand[slot] = false;
            } else {
                writeBack(slot, nowMillis, writer);
                removeBucket(bucketOfSlot[slot]);
                bucketOfSlot[slot] = FREE;
                return slot;
            }
        }
    }

    private void writeBack(int slot, long nowMillis, StateWriter writer) throws Exception {
        if (dirty[slot] && !expired(slot, nowMillis)) {
            writer.write(new String(userChars[slot], 0, userLength[slot]), contexts[slot]);
        }
        dirty[slot] = false;
    }

    private void forget(int slot) {
        removeBucket(bucketOfSlot[slot]);
        bucketOfSlot[slot] = FREE;
        freeSlots[freeCount++] = slot;
    }

    private boolean expired(int slot, long nowMillis) {
        return nowMillis - updatedMillis[slot] >= ttlMillis;
    }

    private int find(String user, int h) {
        for (int bucket = h & mask; ; bucket = (bucket + 1) & mask) {
            int slotPlusOne = slotOfBucket[bucket];
            if (slotPlusOne == 0) {
                return -1;
            }
            if (hashOfBucket[bucket] == h && holds(slotPlusOne - 1, user)) {
                return bucket;
            }
        }
    }

    private boolean holds(int slot, String user) {
        int length = userLength[slot];
        if (user.length() != length) {
            return false;
        }
        char[] chars = userChars[slot];
        for (int i = 0; i < length; i++) {
            if (chars[i] != user.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** Linear-probing deletion: later buckets of the same run that may not stay behind the hole move into it. */
    private void removeBucket(int bucket) {
        int hole = bucket;
        slotOfBucket[hole] = 0;
        for (int next = (hole + 1) & mask; slotOfBucket[next] != 0; next = (next + 1) & mask) {
            int home = hashOfBucket[next] & mask;
            boolean reachableWithoutHole = hole <= next ? hole < home && home <= next : hole < home || home <= next;
            if (!reachableWithoutHole) {
                slotOfBucket[hole] = slotOfBucket[next];
                hashOfBucket[hole] = hashOfBucket[next];
                bucketOfSlot[slotOfBucket[hole] - 1] = hole;
                slotOfBucket[next] = 0;
                hole = next;
            }
        }
        size--;
    }

    private static int hash(String user) {
        int h = user.hashCode();
        return h ^ (h >>> 16);
    }
}
