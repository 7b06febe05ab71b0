// Package bolt is the issuer's embedded default issuer.Roll: the voter roll
// in a bbolt file of its own, never the board's store. It is a package of
// its own, like store/bolt for the board, so that the issuer sees only the
// Roll interface and its client builds without bbolt (for a web booth).
package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/evote/evote/internal/durable"
	"github.com/evote/evote/issuer"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketVoters = []byte("voters")
	bucketMeta   = []byte("meta")
	keyEligible  = []byte("eligible")
	keyIssued    = []byte("issued")
	keyPurged    = []byte("purged")
	keyFormat    = []byte("format")
	rollFormat   = []byte("evote/issuer-roll/v1")
)

// Roll is the voter roll on a bbolt file. Writes go through bbolt's group
// commit (DB.Batch), so concurrent issuances share one fsync.
type Roll struct {
	path string
	mu   sync.RWMutex // write-locked only while Purge swaps the file
	db   *bolt.DB

	decoyOnce sync.Once
	decoy     issuer.CodeHash
}

// Open opens the roll file at path, creating it if needed. Only one
// process may have it open; another waits up to 5 s and then fails.
func Open(path string) (*Roll, error) {
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	return &Roll{path: path, db: db}, nil
}

func openBolt(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("issuer: opening roll %s: %w (is another issuer using it?)", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch f := meta.Get(keyFormat); {
		case f == nil:
			if err := meta.Put(keyFormat, rollFormat); err != nil {
				return err
			}
		case string(f) != string(rollFormat):
			return fmt.Errorf("file format is %q, want %q: not an issuer roll", f, rollFormat)
		}
		if meta.Get(keyPurged) != nil {
			return nil
		}
		_, err = tx.CreateBucketIfNotExists(bucketVoters)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("issuer: opening roll %s: %w", path, err)
	}
	return db, nil
}

func getCount(meta *bolt.Bucket, key []byte) int {
	v := meta.Get(key)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func putCount(meta *bolt.Bucket, key []byte, n int) error {
	return meta.Put(key, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// voters returns the voter bucket, or issuer.ErrPurged.
func voters(tx *bolt.Tx) (*bolt.Bucket, error) {
	if tx.Bucket(bucketMeta).Get(keyPurged) != nil {
		return nil, issuer.ErrPurged
	}
	b := tx.Bucket(bucketVoters)
	if b == nil {
		return nil, errors.New("issuer: roll file has no voter bucket")
	}
	return b, nil
}

func getRecord(b *bolt.Bucket, voterID string) (issuer.RollEntry, error) {
	v := b.Get([]byte(voterID))
	if v == nil {
		return issuer.RollEntry{}, issuer.ErrUnknownVoter
	}
	var r issuer.RollEntry
	if err := json.Unmarshal(v, &r); err != nil {
		return issuer.RollEntry{}, fmt.Errorf("issuer: roll record of voter %q is corrupt: %w", voterID, err)
	}
	return r, nil
}

func putRecord(b *bolt.Bucket, r *issuer.RollEntry) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.VoterID), v)
}

// Add implements [issuer.Roll], in one transaction.
func (br *Roll) Add(ctx context.Context, recs []issuer.RollEntry) error {
	br.mu.RLock()
	defer br.mu.RUnlock()
	return br.db.Update(func(tx *bolt.Tx) error {
		b, err := voters(tx)
		if err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		eligible, issued := getCount(meta, keyEligible), getCount(meta, keyIssued)
		if issued > 0 {
			return issuer.ErrIssuanceStarted
		}
		for i := range recs {
			if i%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			r := &recs[i]
			if err := issuer.CheckVoterID(r.VoterID); err != nil {
				return err
			}
			if b.Get([]byte(r.VoterID)) != nil {
				return fmt.Errorf("%w: %q", issuer.ErrDuplicateVoter, r.VoterID)
			}
			if err := putRecord(b, r); err != nil {
				return err
			}
			eligible++
			if r.Issued() {
				issued++
			}
		}
		if err := putCount(meta, keyEligible, eligible); err != nil {
			return err
		}
		return putCount(meta, keyIssued, issued)
	})
}

// Get implements [issuer.Roll].
func (br *Roll) Get(ctx context.Context, voterID string) (issuer.RollEntry, error) {
	br.mu.RLock()
	defer br.mu.RUnlock()
	var r issuer.RollEntry
	err := br.db.View(func(tx *bolt.Tx) error {
		b, err := voters(tx)
		if err != nil {
			return err
		}
		r, err = getRecord(b, voterID)
		return err
	})
	return r, err
}

// batch runs fn in a group-committed write transaction. fn reports outcomes
// that must not roll back the batch (unknown voter, already issued) through
// *outcome rather than its return value; it may run more than once.
func (br *Roll) batch(fn func(tx *bolt.Tx, outcome *error) error) error {
	br.mu.RLock()
	defer br.mu.RUnlock()
	var outcome error
	err := br.db.Batch(func(tx *bolt.Tx) error {
		outcome = nil
		return fn(tx, &outcome)
	})
	if err != nil {
		return err
	}
	return outcome
}

// decoyID is the key of the decoy entry Update writes for a voter ID not
// on the roll.
const decoyID = "\x00decoy"

// decoyCode is the decoy entry's code hash: one of a random code, so that
// its record is the size of every voter's.
func (br *Roll) decoyCode() issuer.CodeHash {
	br.decoyOnce.Do(func() {
		code, err := issuer.GenerateCode()
		if err == nil {
			br.decoy, _ = issuer.HashCode(code)
		}
	})
	return br.decoy
}

// Update implements [issuer.Roll]: the entry is read, changed and written
// in one write transaction, which bbolt runs one at a time.
//
// For a voter ID not on the roll it does the same work on a decoy entry
// of the voters bucket (read, decode, change, encode, write, sync), so that
// the answer takes as long as a wrong code for a voter on it: without any
// write a wrong code took about 14 ms for a voter on the roll against 2 ms
// for an unknown ID, and one request told a stranger who is on the roll; a
// decoy count in the small meta bucket still left 0.2 ms between them
// (BenchmarkWrongCode). The decoy's key holds a NUL byte, which no voter
// ID may (issuer.CheckVoterID), and the counts are kept in meta, so no one
// counts or finds it.
func (br *Roll) Update(ctx context.Context, voterID string, change func(*issuer.RollEntry) error) (issuer.RollEntry, error) {
	var rec issuer.RollEntry
	err := br.batch(func(tx *bolt.Tx, outcome *error) error {
		b, err := voters(tx)
		if err != nil {
			*outcome = err
			return nil
		}
		r, err := getRecord(b, voterID)
		if errors.Is(err, issuer.ErrUnknownVoter) {
			*outcome = err
			d, derr := getRecord(b, decoyID)
			if derr != nil {
				d = issuer.RollEntry{VoterID: decoyID, Code: br.decoyCode()}
			}
			// The decoy takes the change an attempt makes, never a token:
			// a change that fails on it is still written, as is.
			if next, _, err := issuer.ApplyUpdate(&d, change); err == nil && !next.Issued() {
				d = next
			}
			if d.Failures > 1<<20 {
				d.Failures, d.Backoffs = 0, nil
			}
			return putRecord(b, &d)
		}
		if err != nil {
			*outcome = err
			return nil
		}
		next, issued, err := issuer.ApplyUpdate(&r, change)
		if err != nil {
			*outcome = err
			return nil
		}
		if issued > 0 {
			meta := tx.Bucket(bucketMeta)
			if err := putCount(meta, keyIssued, getCount(meta, keyIssued)+issued); err != nil {
				return err
			}
		}
		rec = next
		return putRecord(b, &next)
	})
	if err != nil {
		return issuer.RollEntry{}, err
	}
	return rec, nil
}

// Each calls fn with every voter's entry, in voter ID order (evote issuer
// migrate copies the roll with it), reading 1024 entries per short read
// transaction; fn's entry is its own. It returns issuer.ErrPurged once
// the roll is purged, and fn's error if fn fails.
func (br *Roll) Each(ctx context.Context, fn func(issuer.RollEntry) error) error {
	var after []byte
	for {
		var page []issuer.RollEntry
		err := func() error {
			br.mu.RLock()
			defer br.mu.RUnlock()
			return br.db.View(func(tx *bolt.Tx) error {
				b, err := voters(tx)
				if err != nil {
					return err
				}
				c := b.Cursor()
				k, _ := c.First()
				if after != nil {
					if k, _ = c.Seek(after); k != nil && string(k) == string(after) {
						k, _ = c.Next()
					}
				}
				for ; k != nil && len(page) < 1024; k, _ = c.Next() {
					if string(k) == decoyID {
						continue
					}
					r, err := getRecord(b, string(k))
					if err != nil {
						return err
					}
					page = append(page, r)
				}
				return nil
			})
		}()
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < 1024 {
			return nil
		}
		after = []byte(page[len(page)-1].VoterID)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Counts implements [issuer.Roll].
func (br *Roll) Counts(ctx context.Context) (issuer.Counts, error) {
	br.mu.RLock()
	defer br.mu.RUnlock()
	var c issuer.Counts
	err := br.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		c = issuer.Counts{Eligible: getCount(meta, keyEligible), Issued: getCount(meta, keyIssued), Purged: meta.Get(keyPurged) != nil}
		return nil
	})
	return c, err
}

// Purge implements [issuer.Roll]. Deleting a bucket leaves its old pages in the
// file, so Purge instead writes a new file holding only the counts, then
// overwrites the old file in place with zeros and syncs it (a rename alone
// left the old inode's blocks, and any hard link to it, holding every
// record), and renames the new one over it. (An SSD, a copy-on-write file
// system, a snapshot or a backup may still hold old blocks: keep the roll
// on an encrypted volume and destroy its key too, or erase the medium.)
func (br *Roll) Purge(ctx context.Context) (issuer.Counts, error) {
	br.mu.Lock()
	defer br.mu.Unlock()
	var c issuer.Counts
	err := br.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		c = issuer.Counts{Eligible: getCount(meta, keyEligible), Issued: getCount(meta, keyIssued), Purged: meta.Get(keyPurged) != nil}
		return nil
	})
	if err != nil || c.Purged {
		return c, err
	}
	c.Purged = true
	tmp := br.path + ".purging"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return issuer.Counts{}, fmt.Errorf("issuer: purge: %w", err)
	}
	ndb, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return issuer.Counts{}, fmt.Errorf("issuer: purge: creating %s: %w", tmp, err)
	}
	err = ndb.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, rollFormat); err != nil {
			return err
		}
		if err := putCount(meta, keyEligible, c.Eligible); err != nil {
			return err
		}
		if err := putCount(meta, keyIssued, c.Issued); err != nil {
			return err
		}
		return meta.Put(keyPurged, []byte(time.Now().UTC().Format(time.RFC3339)))
	})
	if cerr := ndb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return issuer.Counts{}, fmt.Errorf("issuer: purge: writing %s: %w", tmp, err)
	}
	if err := br.db.Close(); err != nil {
		return issuer.Counts{}, fmt.Errorf("issuer: purge: closing roll: %w", err)
	}
	if err := durable.Zero(br.path); err != nil {
		os.Remove(tmp)
		if db, oerr := openBolt(br.path); oerr == nil {
			br.db = db
		}
		return issuer.Counts{}, fmt.Errorf("issuer: purge: overwriting the old roll: %w (the roll at %s is not purged)", err, br.path)
	}
	if err := os.Rename(tmp, br.path); err != nil {
		os.Remove(tmp)
		if db, oerr := openBolt(br.path); oerr == nil {
			br.db = db
		}
		return issuer.Counts{}, fmt.Errorf("issuer: purge: replacing roll: %w (the roll at %s is not purged)", err, br.path)
	}
	if d, err := os.Open(filepath.Dir(br.path)); err == nil {
		d.Sync()
		d.Close()
	}
	db, err := openBolt(br.path)
	if err != nil {
		return issuer.Counts{}, err
	}
	br.db = db
	return c, nil
}

// Close implements [issuer.Roll].
func (br *Roll) Close() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.db.Close()
}
