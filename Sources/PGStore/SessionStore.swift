public import HTTPTypes
public import Logging
public import PGClient

/// Keeps HTTP sessions in PostgreSQL.
///
/// ```swift
/// let store = try await SessionStore(url: databaseURL, keys: [try SessionKey(hashKey: hashKey, encryptionKey: encryptionKey)])
///
/// // In a handler:
/// var session = try await store.get(request, name: "sid")
/// session.values["counter"] = .int((session.values["counter"]?.intValue ?? 0) + 1)
/// let setCookie = try await store.save(&session)   // add it to the response's header fields
/// ```
///
/// The cookie carries only the signed session ID; the values live in the table, signed and (with
/// an encryption key) encrypted. A bad cookie of any kind gives a fresh session, never an error;
/// only database failures throw (as `PGError`).
///
/// The actor serializes codec work and bookkeeping; database round trips run concurrently
/// (the actor is free while a query is in flight), pipelined by the ``ConnectionPool``.
public actor SessionStore {
    /// The pool the store's queries run on.
    public nonisolated let pool: ConnectionPool
    private let ownsPool: Bool
    private let codec: SessionCodec
    let table: SessionTable
    private var configuration: Configuration
    private let logger: Logger
    var cleanupLogger: Logger { logger }

    /// Creates a store on an existing pool (the pool stays yours to close), creating or migrating
    /// the table when needed.
    ///
    /// - Parameters:
    ///   - pool: the connection pool to use.
    ///   - keys: one or more key pairs; the first seals, all open (rotation).
    ///   - configuration: table and session settings; see ``Configuration``.
    ///   - logger: where the store logs (fresh-session reasons at debug level, cleanup failures).
    ///     Defaults to a logger that discards everything.
    /// - Throws: ``SessionStoreError`` for bad keys, table names or an incompatible table;
    ///   `PGError` when the database fails.
    public init(pool: ConnectionPool, keys: [SessionKey], configuration: Configuration = .init(), logger: Logger? = nil)
        async throws
    {
        try await self.init(pool: pool, ownsPool: false, keys: keys, configuration: configuration, logger: logger)
    }

    /// Creates a store with a pool of its own for a libpq URL or conninfo string; ``close()``
    /// closes that pool.
    ///
    /// - Parameters:
    ///   - url: the database to connect to.
    ///   - keys: one or more key pairs; the first seals, all open (rotation).
    ///   - configuration: table and session settings; see ``Configuration``.
    ///   - poolConfiguration: the pool's sizes and timeouts.
    ///   - logger: where the store and its pool log. Defaults to a logger that discards everything.
    /// - Throws: ``SessionStoreError`` or `PGError`, as for ``init(pool:keys:configuration:logger:)``.
    public init(
        url: String, keys: [SessionKey], configuration: Configuration = .init(),
        poolConfiguration: ConnectionPool.Configuration = .init(), logger: Logger? = nil
    ) async throws {
        let pool = try ConnectionPool(url: url, configuration: poolConfiguration, logger: logger)
        do {
            try await self.init(pool: pool, ownsPool: true, keys: keys, configuration: configuration, logger: logger)
        } catch {
            await pool.close()
            throw error
        }
    }

    private init(pool: ConnectionPool, ownsPool: Bool, keys: [SessionKey], configuration: Configuration, logger: Logger?)
        async throws
    {
        self.pool = pool
        self.ownsPool = ownsPool
        self.codec = try SessionCodec(keys: keys)
        self.table = try SessionTable(schema: configuration.schema, table: configuration.tableName, unlogged: configuration.unlogged)
        self.configuration = configuration
        self.logger = logger ?? Logger(label: "swift-pgstore", factory: { _ in SwiftLogNoOpLogHandler() })
        try await table.prepare(on: pool)
    }

    // MARK: Settings

    /// Sets the max age (seconds) of new sessions' cookies and rows, and of cookies the store
    /// accepts. Sessions already handed out keep their options.
    public func setMaxAge(_ seconds: Int) { configuration.sessionOptions.maxAge = seconds }

    /// Sets the most bytes of encoded session data (`0`: no limit).
    public func setMaxLength(_ bytes: Int) { configuration.maxLength = max(0, bytes) }

    /// The store's max age in seconds.
    public var maxAge: Int { configuration.sessionOptions.maxAge }

    /// The store's max length in bytes.
    public var maxLength: Int { configuration.maxLength }

    // MARK: Loading

    /// Loads the session named `name` from the request's cookies, or makes a fresh one.
    ///
    /// - Parameters:
    ///   - request: the request whose `Cookie` fields are read.
    ///   - name: the cookie name.
    /// - Returns: the stored session, or a fresh one (``Session/isNew``, with a new random ID and
    ///   ``Session/freshReason`` saying why) when the cookie is missing, malformed, tampered,
    ///   expired, signed with an unknown key or for another name, or its row is gone.
    /// - Throws: `PGError` when the database fails.
    public func get(_ request: HTTPRequest, name: String) async throws -> Session {
        try await get(cookieHeader: Self.cookieHeader(of: request), name: name)
    }

    /// All `Cookie` fields of the request as one header value, or `nil`. Out of line so its
    /// temporaries stay out of the callers' async frames (see SessionCodec).
    @inline(never)
    private static func cookieHeader(of request: HTTPRequest) -> String? {
        let fields = request.headerFields[values: .cookie]
        return fields.isEmpty ? nil : fields.joined(separator: "; ")
    }

    /// Loads the session named `name` from a `Cookie` header value, or makes a fresh one.
    ///
    /// - Parameters:
    ///   - cookieHeader: the `Cookie` header (`nil` when there is none).
    ///   - name: the cookie name.
    /// - Returns: the stored session or a fresh one; see ``get(_:name:)``.
    /// - Throws: `PGError` when the database fails.
    public func get(cookieHeader: String?, name: String) async throws -> Session {
        var search = CookieSearch(now: Cookie.unixNow())
        var found: StoredSession?
        // Browsers may send several cookies of one name (different paths); the first valid one
        // wins. The scanning, the codec and the building of the session run out of line, and
        // only small values live across the query: a task keeps this frame while it waits, and
        // at 10,000 waiting tasks its size shows in peak RSS. (One call that returns a `Session`,
        // since each such call site costs room for a whole `Session` in the frame.)
        if let cookieHeader {
            while found == nil, let id = nextCandidateID(&search, in: cookieHeader, name: name) {
                let rows = try await select(id: id, touchThreshold: touchThreshold)
                found = try storedSession(in: rows, id: id)
                if found == nil { search.reason = .notFound }
            }
        }
        return session(found, name: name, reason: search.reason)
    }

    /// The row of session `id`, if live. Its own small frame: the arguments it builds stay out of
    /// `get`'s.
    @inline(never)
    private nonisolated func select(id: String, touchThreshold: Double) async throws -> QueryResult {
        try await pool.query(table.selectSQL, [.text(id), .float8(touchThreshold)], readOnly: true)
    }

    /// Where the search through a `Cookie` header stands.
    private struct CookieSearch {
        let now: Int64
        var offset = 0
        var tried = 0
        var reason = Session.FreshReason.noCookie
    }

    /// The session ID in the next cookie named `name` that opens, or `nil` when none is left
    /// (at most four are tried, so a header stuffed with copies costs little).
    @inline(never)
    private func nextCandidateID(_ search: inout CookieSearch, in header: String, name: String) -> String? {
        while search.tried < 4, let (candidate, next) = Cookie.value(named: name, in: header, from: search.offset) {
            search.tried += 1
            search.offset = next
            switch codec.openCookie(candidate, name: name, now: search.now, maxAge: configuration.sessionOptions.maxAge) {
            case .failure(.malformed): search.reason = .malformed
            case .failure(.badSignature): search.reason = .badSignature
            case .failure(.expired): search.reason = .expired
            case .success(let id): return id
            }
        }
        return nil
    }

    /// What `get` keeps of a stored session until it builds the `Session`.
    private struct StoredSession {
        let id: String
        let values: [String: SessionValue]
        let touchDue: Bool
    }

    /// The session stored in the SELECT's rows, or `nil` when there is no row or its data does
    /// not verify. Out of line, like the other sync steps of `get`: sync work inlined into an
    /// async function can sit in the task's frame while the task waits.
    @inline(never)
    private func storedSession(in rows: QueryResult, id: String) throws -> StoredSession? {
        guard let row = rows.first else { return nil }
        guard let values = try row.withUnsafeBytes(column: 0, { codec.openValues($0, sessionID: id) }) else {
            logger.warning("stored session data does not verify; handing out a fresh session", metadata: ["table": "\(table.displayName)"])
            return nil
        }
        return StoredSession(id: id, values: values, touchDue: try row.decode(Bool.self, column: 1))
    }

    /// The stored session, or a fresh one for `reason`.
    @inline(never)  // see storedSession(in:id:)
    private func session(_ stored: StoredSession?, name: String, reason: Session.FreshReason) -> Session {
        guard let stored else { return fresh(name, reason) }
        var session = Session(
            id: stored.id, name: name, values: stored.values, options: configuration.sessionOptions, isNew: false,
            freshReason: nil)
        session.touchDue = stored.touchDue
        return session
    }

    /// A fresh session named `name` with a new random ID; it costs no row until it is saved.
    public func new(name: String) -> Session {
        fresh(name, .requested)
    }

    @inline(never)  // out of get's async frame (see storedSession(in:id:))
    private func fresh(_ name: String, _ reason: Session.FreshReason) -> Session {
        if reason != .requested && reason != .noCookie {
            logger.debug("fresh session", metadata: ["name": "\(name)", "reason": "\(reason)"])
        }
        return Session(
            id: SessionCodec.newSessionID(), name: name, values: [:],
            options: configuration.sessionOptions, isNew: true, freshReason: reason)
    }

    // MARK: Saving

    /// Saves the session and returns the `Set-Cookie` field for the response.
    ///
    /// - A new session is INSERTed under its fresh ID.
    /// - A stored session is UPDATEd only when its values changed, or only its expiry when that is
    ///   due (see ``Configuration/touchFraction``); otherwise nothing is written.
    /// - A stored session whose row is gone (destroyed by a concurrent request, or expired) is
    ///   never brought back: the save throws ``SessionStoreError/Code/sessionNotFound``.
    /// - `options.maxAge < 0` deletes the row and returns an expiring cookie.
    ///
    /// - Parameter session: the session; on return it is no longer new and its changes count as stored.
    /// - Returns: the `Set-Cookie` header field (the cookie carries only the signed session ID).
    /// - Throws: ``SessionStoreError`` (`dataTooLarge`, `sessionNotFound`) with nothing written, or
    ///   `PGError` when the database fails.
    public func save(_ session: inout Session) async throws -> HTTPField {
        if session.options.maxAge < 0 { return try await destroy(&session) }
        let lifetime = Double(rowMaxAge(session.options))
        if session.isNew {
            let data = try seal(session.values, id: session.id)
            _ = try await pool.query(table.insertSQL, [.text(session.id), .bytea(data), .float8(lifetime)])
        } else if session.storedValues != session.values {
            let data = try seal(session.values, id: session.id)
            let result = try await pool.query(table.updateSQL, [.text(session.id), .bytea(data), .float8(lifetime)])
            guard result.affectedRows == 1 else { throw gone(session) }
        } else if session.touchDue {
            let result = try await pool.query(table.touchSQL, [.text(session.id), .float8(lifetime)])
            guard result.affectedRows == 1 else { throw gone(session) }
        }
        session.markStored()
        return try cookie(for: session)
    }

    /// Gives the session a new ID (call it at login, against session fixation): values kept, the
    /// old row deleted and the new one written in one statement, so the old cookie finds nothing.
    ///
    /// Save the session afterwards only if you change it again; the returned cookie is already
    /// the new one.
    /// - Returns: the `Set-Cookie` field carrying the new ID.
    /// - Throws: ``SessionStoreError/Code/sessionNotFound`` when the stored row is already gone,
    ///   ``SessionStoreError/Code/dataTooLarge``, or `PGError`.
    @discardableResult
    public func regenerateID(_ session: inout Session) async throws -> HTTPField {
        let newID = SessionCodec.newSessionID()
        let data = try seal(session.values, id: newID)
        let lifetime = Double(rowMaxAge(session.options))
        if session.isNew {
            _ = try await pool.query(table.insertSQL, [.text(newID), .bytea(data), .float8(lifetime)])
        } else {
            let result = try await pool.query(
                table.regenerateSQL, [.text(session.id), .text(newID), .bytea(data), .float8(lifetime)])
            guard result.affectedRows == 1 else { throw gone(session) }
        }
        session.id = newID
        session.markStored()
        return try cookie(for: session)
    }

    /// Deletes the session's row and returns an expiring cookie. The session becomes a fresh,
    /// empty one with a new ID.
    /// - Returns: the `Set-Cookie` field that removes the cookie.
    /// - Throws: `PGError` when the database fails.
    @discardableResult
    public func destroy(_ session: inout Session) async throws -> HTTPField {
        if !session.isNew {
            _ = try await pool.query(table.deleteSQL, [.text(session.id)])
        }
        let field = HTTPField(
            name: .setCookie,
            value: Cookie.setCookie(name: session.name, value: nil, options: session.options, now: Cookie.unixNow()))
        var options = session.options
        if options.maxAge < 0 { options.maxAge = configuration.sessionOptions.maxAge }
        session = fresh(session.name, .requested)
        session.options = options
        return field
    }

    // MARK: Cleanup

    /// Deletes expired rows in batches of ``Configuration/cleanupBatchSize`` until none are left.
    /// - Returns: the number of rows deleted.
    /// - Throws: `PGError` when the database fails, or `CancellationError` between batches.
    @discardableResult
    public func deleteExpired() async throws -> Int {
        let batch = max(1, configuration.cleanupBatchSize)
        var total = 0
        while true {
            try Task.checkCancellation()
            let deleted = try await pool.query(table.deleteExpiredSQL, [.int8(Int64(batch))]).affectedRows
            total += deleted
            if deleted < batch { return total }
        }
    }

    /// Closes the store, and its pool when the store created it.
    public func close() async {
        if ownsPool { await pool.close() }
    }

    // MARK: Helpers

    private func seal(_ values: [String: SessionValue], id: String) throws -> [UInt8] {
        let data = try codec.sealData(ValueEncoding.encode(values), sessionID: id)
        let limit = configuration.maxLength
        if limit > 0 && data.count > limit {
            throw SessionStoreError(.dataTooLarge, "the encoded session is \(data.count) bytes; the limit is \(limit)")
        }
        return data
    }

    private func cookie(for session: Session) throws -> HTTPField {
        let now = Cookie.unixNow()
        let value = try codec.sealCookie(id: Base64URL.decode(Substring(session.id).utf8) ?? [], name: session.name, issuedAt: now)
        return HTTPField(name: .setCookie, value: Cookie.setCookie(name: session.name, value: value, options: session.options, now: now))
    }

    /// A loaded session's expiry is due to move once less than this many seconds are left.
    /// (Out of line: the configuration copies it reads stay out of `get`'s async frame.)
    var touchThreshold: Double {
        @inline(never) get {
            Double(rowMaxAge(configuration.sessionOptions)) * (1 - min(max(configuration.touchFraction, 0), 1))
        }
    }

    /// The row's lifetime: the session's max age, or the store's for browser-session cookies.
    private func rowMaxAge(_ options: SessionOptions) -> Int {
        if options.maxAge > 0 { return options.maxAge }
        return configuration.sessionOptions.maxAge > 0 ? configuration.sessionOptions.maxAge : 86_400 * 30
    }

    private func gone(_ session: Session) -> SessionStoreError {
        SessionStoreError(.sessionNotFound, "the session's row is gone (destroyed or expired); it was not saved")
    }
}
