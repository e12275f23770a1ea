extension SessionStore {
    /// Where a ``SessionStore`` keeps its rows and how its sessions behave.
    public struct Configuration: Sendable {
        /// The table's schema, or `nil` for the search path's first. Default `nil`.
        public var schema: String?
        /// The table's name. Default `http_sessions`. Letters, digits and `_`, at most 63 bytes.
        public var tableName: String = "http_sessions"
        /// Creates the table as `UNLOGGED` (faster writes, emptied after a crash). Default `false`.
        public var unlogged: Bool = false
        /// The defaults each new session's ``Session/options`` copy. Their `maxAge` is the store's
        /// max age: cookies older than that are rejected. Default: see ``SessionOptions``.
        public var sessionOptions = SessionOptions()
        /// The most bytes of encoded (sealed) session data; larger sessions fail to save. `0` means
        /// no limit. Default 4096.
        public var maxLength: Int = 4096
        /// A session's expiry is pushed forward once this fraction of its max age has passed
        /// since it was last moved; before that, saving an unchanged session writes nothing, and
        /// saving a changed one writes its values but leaves the expiry (unless the session has a
        /// max age other than the store's). Default 0.1.
        public var touchFraction: Double = 0.1
        /// Rows deleted per statement by the cleanup, so that no single DELETE holds locks long.
        /// Default 1000.
        public var cleanupBatchSize: Int = 1000
        /// New session IDs begin with the hour they were made (3 of their 32 bytes, hours since
        /// 1970 UTC; the other 29 bytes, 232 bits, are random). Default `true`.
        ///
        /// The table's index is ordered by ID: with the hour first, the sessions in use, mostly
        /// made recently, sit together in it, so reads and inserts cost the same in a table of a
        /// million sessions as in one of ten thousand. Fully random IDs scatter them over the
        /// whole index. Set `false` when a cookie must not tell its holder the hour its session
        /// was made (cookies carry the ID signed, not encrypted; see <doc:SecurityModel>).
        public var idsBeginWithCreationHour: Bool = true

        /// The defaults stated on each property.
        public init() {}
    }
}
