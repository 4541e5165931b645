#[test]
fn killed_between_shards_keeps_earlier_ones() {
    // spawns the writer, kills it between two shards, re-hashes the earlier shards
}
