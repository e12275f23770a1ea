/// How a save that finds its row changed by another request keeps both requests' work.
///
/// Two requests of one browser (two tabs, parallel XHRs) load the same session, and each changes
/// it. Written whole, the later save would undo the earlier one's changes; the Go pgstore loses
/// them this way. Instead the later save applies only its own changes (the keys whose values
/// differ from what it loaded, removals included) onto the values the row holds now: changes to
/// different keys both survive, and for a key both changed, the later save wins.
enum ConcurrentSaveMerge {
    /// The row's current values with the session's own changes applied.
    ///
    /// - Parameters:
    ///   - current: what the row holds now.
    ///   - loaded: what the session loaded (`nil`: nothing, every value is a change).
    ///   - changed: the session's values now.
    static func merged(
        current: [String: SessionValue], loaded: [String: SessionValue]?, changed: [String: SessionValue]
    ) -> [String: SessionValue] {
        var result = current
        let loaded = loaded ?? [:]
        for (key, value) in changed where loaded[key] != value {
            result[key] = value
        }
        for key in loaded.keys where changed[key] == nil {
            result.removeValue(forKey: key)
        }
        return result
    }
}
