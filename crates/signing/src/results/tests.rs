use super::*;

fn key(n: u8) -> ResultKey {
    ResultKey {
        format: Format::Gpg,
        key_id: "k".into(),
        input_sha256: Sha256Digest::from_bytes([n; 32]),
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn results_are_kept_across_a_reopen_and_bounded_by_size() {
    let dir = tempfile::tempdir().unwrap();
    // A record is the 1000-byte output and a header of about 250 bytes; segments close at
    // 3000 / 8 bytes, so every record gets its own segment and eviction goes one at a time.
    let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 3000).unwrap();
    store.put(&key(1), &[1; 1000]).unwrap();
    store.put(&key(2), &[2; 1000]).unwrap();
    assert_eq!(store.get(&key(1)).unwrap(), Some(vec![1; 1000]));
    store.put(&key(3), &[3; 1000]).unwrap();
    // Three records are over 3000 bytes: the oldest goes.
    assert_eq!(store.get(&key(1)).unwrap(), None);
    assert_eq!(store.len(), 2);
    assert!(store.total_bytes() <= 3000 && store.total_bytes() > 2000);
    assert_eq!(segment_files(dir.path()).len(), 2);
    drop(store);

    let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 3000).unwrap();
    assert_eq!(store.get(&key(3)).unwrap(), Some(vec![3; 1000]));
    assert_eq!(store.get(&key(2)).unwrap(), Some(vec![2; 1000]));
    assert_eq!(store.len(), 2);
    // After a reopen, new results go to a new segment, never after a possibly torn tail.
    store.put(&key(4), &[4; 10]).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 3);
}

#[test]
fn old_results_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store = ResultStore::open(dir.path(), Duration::from_millis(30), 1000).unwrap();
    store.put(&key(1), b"x").unwrap();
    assert!(store.contains(&key(1)));
    std::thread::sleep(Duration::from_millis(60));
    assert!(!store.contains(&key(1)));
    assert_eq!(store.get(&key(1)).unwrap(), None);
    store.put(&key(2), b"y").unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[test]
fn a_damaged_result_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 1 << 30).unwrap();
    store
        .put_many(&[
            (
                &key(1),
                &b"first output"[..],
                Sha256Digest::of(b"first output"),
            ),
            (
                &key(2),
                &b"second output"[..],
                Sha256Digest::of(b"second output"),
            ),
        ])
        .unwrap();
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 1, "one write, one segment");

    // One flipped byte in the second output, as a lost page-cache write might leave it.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x20;
    std::fs::write(&files[0], &bytes).unwrap();
    assert_eq!(store.get(&key(2)).unwrap(), None);
    assert!(!store.contains(&key(2)), "forgotten, so it is signed again");
    assert_eq!(store.get(&key(1)).unwrap(), Some(b"first output".to_vec()));
    // Signed again: the new record is served.
    store.put(&key(2), b"second output").unwrap();
    assert_eq!(store.get(&key(2)).unwrap(), Some(b"second output".to_vec()));
    drop(store);

    // A crash cut the segment short in the last record (the second signing of key 2): at the
    // reopen the damaged record before it is indexed, but not served.
    let segment = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &segment[..segment.len() - 5]).unwrap();
    let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 1 << 30).unwrap();
    assert_eq!(store.get(&key(1)).unwrap(), Some(b"first output".to_vec()));
    assert_eq!(store.get(&key(2)).unwrap(), None);
    assert_eq!(store.len(), 1);
}

#[test]
fn a_result_stored_again_replaces_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 1 << 30).unwrap();
    store.put(&key(1), b"old").unwrap();
    store.put(&key(1), b"new").unwrap();
    assert_eq!(store.get(&key(1)).unwrap(), Some(b"new".to_vec()));
    assert_eq!(store.len(), 1);
    drop(store);
    let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 1 << 30).unwrap();
    assert_eq!(store.get(&key(1)).unwrap(), Some(b"new".to_vec()));
}
