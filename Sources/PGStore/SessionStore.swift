public import HTTPTypes
public import Logging
public import PGClient
import Synchronization

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
/// (the actor is free while a query is in flight), pipelined by the `ConnectionPool`. Each
/// call enters the actor once: `get` after its SELECT has been answered, `save` and
/// `regenerateID` before their statement is sent, `destroy` after its DELETE. The calls
/// themselves are `nonisolated(nonsending)`: the cookie is parsed and the statement sent on the
/// caller's executor, without a hop onto the global executor first.
public actor SessionStore {
    /// The pool the store's queries run on.
    public nonisolated let pool: ConnectionPool
    private let ownsPool: Bool
    private let codec: SessionCodec
    let table: SessionTable
    /// Whether the table has its `user_id` column (schema 2 on), which binding sessions to users
    /// needs: a role that may not migrate a table of schema 1 starts without it.
    private let bindsUsers: Bool
    private var configuration: Configuration
    /// ``touchThreshold``'s bits.
    private nonisolated let touchThresholdBits: Atomic<UInt64>
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
        // Keys and names are checked before the database is touched.
        let codec = try SessionCodec(keys: keys)
        let table = try SessionTable(schema: configuration.schema, table: configuration.tableName, unlogged: configuration.unlogged)
        let version = try await table.prepare(on: pool)
        self.pool = pool
        self.ownsPool = ownsPool
        self.codec = codec
        self.table = table
        self.bindsUsers = version >= 2
        self.configuration = configuration
        self.touchThresholdBits = Atomic(Self.touchThreshold(configuration).bitPattern)
        self.logger = logger ?? Logger(label: "swift-pgstore", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    // MARK: Settings

    /// Sets the max age (seconds) of new sessions' cookies and rows, and of cookies the store
    /// accepts. Sessions already handed out keep their options.
    public func setMaxAge(_ seconds: Int) {
        configuration.sessionOptions.maxAge = seconds
        touchThresholdBits.store(Self.touchThreshold(configuration).bitPattern, ordering: .relaxed)
    }

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
    public nonisolated(nonsending) func get(_ request: HTTPRequest, name: String) async throws -> Session {
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
    public nonisolated(nonsending) func get(cookieHeader: String?, name: String) async throws -> Session {
        // A signed cookie carries its session ID in the clear, so the row's SELECT starts before
        // the actor is entered; the actor then checks the cookie's signature and age and opens the
        // row in one visit, instead of one visit before the query and another after it. A cookie
        // whose signature fails has cost one primary-key lookup, no more than a valid cookie
        // costs. Browsers may send several cookies of one name (different paths); the first valid
        // one wins, and at most four are tried, so a header stuffed with copies costs little.
        var tried = 0
        if let cookieHeader {
            // The cookie after the current one is found before the current one is opened (its
            // open must know whether it is the last to try), and becomes the next candidate.
            var following = Cookie.value(named: name, in: cookieHeader, from: 0)
            while tried < 4, let (candidate, next) = following {
                tried += 1
                following = Cookie.value(named: name, in: cookieHeader, from: next)
                let isLast = tried == 4 || following == nil
                // A cookie sealed before 2026-12-01 has its ID encrypted: only the actor can read
                // it, so it is opened (once) before the query.
                let claimed = SessionCodec.claimedCookie(in: candidate)
                let encrypted = if claimed == nil { await openEncryptedCookie(candidate, name: name) } else { OpenedCookie?.none }
                let claimedID = if let claimed { claimed.id } else { try? encrypted?.get() }
                let rows = if let claimedID { try await select(id: claimedID) } else { QueryResult?.none }
                if let session = try await open(claimed, encrypted, claimedID: claimedID, name: name, rows: rows, isLast: isLast) {
                    return session
                }
            }
        }
        return await fresh(name, .noCookie)
    }

    /// The row of session `id`, if live. Inlined: as a function of its own it cost a task switch
    /// on its return (16 bytes more of `get`'s async frame instead).
    @inline(__always)
    private nonisolated(nonsending) func select(id: String) async throws -> QueryResult {
        try await pool.query(table.selectSQL, [.text(id), .float8(touchThreshold)], readOnly: true)
    }

    /// Checks a cookie and opens the row read for the ID it claims: the codec half of `get`. A
    /// signed cookie is verified here from the bytes `get` decoded (`claimed`); an older,
    /// encrypted one arrives opened (`encrypted`), since its ID had to be read before the query.
    ///
    /// - Returns: the stored session; a fresh one when this cookie gives none and it is the last
    ///   to try (the fresh session says why); `nil` when it gives none and another is left.
    @inline(never)  // sync work inlined into an async function can sit in the task's frame while it waits
    private func open(
        _ claimed: SessionCodec.ClaimedCookie?, _ encrypted: OpenedCookie?, claimedID: String?, name: String, rows: QueryResult?,
        isLast: Bool
    ) throws -> Session? {
        let reason: Session.FreshReason
        let opened = if let claimed {
            codec.openCookie(claimed, name: name, now: Cookie.unixNow(), maxAge: configuration.sessionOptions.maxAge)
        } else {
            encrypted ?? .failure(.malformed)  // get opens every cookie it cannot claim
        }
        switch opened {
        case .failure(.malformed): reason = .malformed
        case .failure(.badSignature): reason = .badSignature
        case .failure(.expired): reason = .expired
        case .success(let id):
            // The row was read for the ID the cookie claimed; now that the signature holds, it is
            // the cookie's.
            guard id == claimedID, let row = rows?.first else {
                reason = .notFound
                break
            }
            let opened = try row.withUnsafeBytes(column: 0) { data in
                codec.openValues(data, sessionID: id).map { ($0, DataFingerprint(of: data)) }
            }
            guard let (values, fingerprint) = opened else {
                logger.warning("stored session data does not verify; handing out a fresh session", metadata: ["table": "\(table.displayName)"])
                reason = .corruptData
                break
            }
            let touchDue = try row.decode(Bool.self, column: 1)
            return Session(
                id: id, name: name, values: values, options: configuration.sessionOptions, isNew: false, freshReason: nil,
                touchDue: touchDue, storedFingerprint: fingerprint)
        }
        return isLast ? fresh(name, reason) : nil
    }

    /// A cookie checked against the keys, the cookie name and the store's max age: its session ID,
    /// or why it is not acceptable.
    private typealias OpenedCookie = Result<String, SessionCodec.CookieFailure>

    /// Opens a cookie sealed with AES-GCM (as before 2026-12-01), checked against the keys, the
    /// cookie name and the store's max age.
    private func openEncryptedCookie(_ cookie: Substring, name: String) -> OpenedCookie {
        codec.openCookie(cookie, name: name, now: Cookie.unixNow(), maxAge: configuration.sessionOptions.maxAge)
    }

    /// A fresh session named `name` with a new random ID; it costs no row until it is saved.
    public func new(name: String) -> Session {
        fresh(name, .requested)
    }

    /// A new session ID, laid out as the configuration says.
    private func newSessionID() -> String {
        SessionCodec.newSessionID(hourFirst: configuration.idsBeginWithCreationHour)
    }

    @inline(never)  // out of get's async frame (see storedSession(in:id:))
    private func fresh(_ name: String, _ reason: Session.FreshReason) -> Session {
        if reason != .requested && reason != .noCookie {
            logger.debug("fresh session", metadata: ["name": "\(name)", "reason": "\(reason)"])
        }
        return Session(
            id: newSessionID(), name: name, values: [:],
            options: configuration.sessionOptions, isNew: true, freshReason: reason)
    }

    // MARK: Saving

    /// Saves the session and returns the `Set-Cookie` field for the response.
    ///
    /// - A new session is INSERTed under its fresh ID.
    /// - A stored session is UPDATEd only when its values changed, or only its expiry when that is
    ///   due (see ``Configuration/touchFraction``); otherwise nothing is written. Changed values
    ///   move the expiry too only when it is due or the session has a positive `maxAge` other
    ///   than the store's: an UPDATE that leaves the indexed `expires_on` alone is made in place.
    /// - A stored session whose row is gone (destroyed by a concurrent request, or expired) is
    ///   never brought back: the save throws ``SessionStoreError/Code/sessionNotFound``.
    /// - A stored session whose row another request has changed since this one loaded it (two
    ///   tabs, parallel requests) is merged, not overwritten: only this session's own changes
    ///   (keys set, changed or removed since it was loaded) are applied to the row's newer values,
    ///   so changes to different keys both survive; for a key both changed, this save wins. On
    ///   return ``Session/values`` holds the merged values.
    /// - `options.maxAge < 0` deletes the row and returns an expiring cookie.
    /// - Writes of concurrent saves sent at the same moment share one commit (the pool's group
    ///   commit, see `ConnectionPool.query(_:_:readOnly:groupCommitKey:)`); each save still gets its
    ///   own outcome.
    ///
    /// - Parameter session: the session; on return it is no longer new and its changes count as stored.
    /// - Returns: the `Set-Cookie` header field (the cookie carries only the signed session ID).
    /// - Throws: ``SessionStoreError`` (`dataTooLarge`, `sessionNotFound`) with nothing written, or
    ///   `PGError` when the database fails.
    public nonisolated(nonsending) func save(_ session: inout Session) async throws -> HTTPField {
        if session.options.maxAge < 0 { return try await destroy(&session) }
        // The codec work (sealing the values and the cookie) in one visit to the actor; the write
        // runs after it, so the actor is not entered a second time when the write returns.
        let plan = try await planSave(session)
        if let write = plan.write {
            let written = try await perform(write, for: session)
            session.markStored(written.values, fingerprint: written.fingerprint)
        } else {
            session.markStored(session.values, fingerprint: session.storedFingerprint)
        }
        return plan.cookie
    }

    /// The statement a save sends (none when nothing changed) and the cookie it returns.
    private struct SavePlan: Sendable {
        let write: Write?
        let cookie: HTTPField
    }

    /// A statement that writes a session's row, planned on the actor and sent after it.
    private struct Write: Sendable {
        enum Kind: Sendable {
            /// A new session's row.
            case insert
            /// New values for a stored session's row, if it still holds what the session loaded.
            case update
            /// A later expiry, nothing else.
            case touch
            /// The session's values under a new ID, the old row gone (see ``regenerateID(_:userID:)``).
            case regenerate(newID: String, userID: String?)
        }

        let kind: Kind
        let sql: String
        let parameters: [PGValue]
        /// Whether the write must find the stored row (all but an INSERT).
        let findsRow: Bool
        /// What the row holds once this is written: the values and their data's fingerprint.
        let values: [String: SessionValue]
        let fingerprint: DataFingerprint?
    }

    /// Sends a planned write and returns what the row holds after it. An update or regeneration
    /// that finds the row changed since the session loaded it (another request saved it in
    /// between) applies the session's own changes to what the row holds now
    /// (``ConcurrentSaveMerge``) and writes that, holding the row's lock from reading to writing,
    /// so that the merge cannot be overtaken in turn.
    /// - Throws: ``SessionStoreError/Code/sessionNotFound`` when the row is gone.
    private nonisolated(nonsending) func perform(_ write: Write, for session: Session) async throws -> Write {
        // One row each, safe to run again after a rollback: concurrent saves share a commit,
        // keyed by the row each locks (a regeneration also inserts a row under its new ID, which
        // no other request can know yet).
        let result = try await pool.query(write.sql, write.parameters, groupCommitKey: session.id)
        if !write.findsRow || result.affectedRows == 1 { return write }
        if case .touch = write.kind { throw Self.gone }  // a touch finds any live row
        // Gone, or changed since the session was loaded. Rare, so a transaction of its own;
        // withConnection rolls it back when anything in it throws.
        return try await pool.withConnection { connection in
            _ = try await connection.query("BEGIN")
            let rows = try await connection.query(self.table.lockSQL, [.text(session.id)])
            let merged = try await self.merge(write, of: session, into: rows)
            let result = try await connection.query(merged.sql, merged.parameters)
            guard result.affectedRows == 1 else { throw Self.gone }  // never: the row is locked and live
            _ = try await connection.query("COMMIT")
            return merged
        }
    }

    /// The write again, with the session's changes applied to what the row holds now (`rows`:
    /// its data in the first column).
    private func merge(_ write: Write, of session: Session, into rows: QueryResult) throws -> Write {
        guard let row = rows.first else { throw Self.gone }
        let (current, fingerprint) = try row.withUnsafeBytes(column: 0) { data in
            (codec.openValues(data, sessionID: session.id), DataFingerprint(of: data))
        }
        // Data that no longer opens (sealed with a key since removed) is replaced by this session's.
        let merged = current.map {
            ConcurrentSaveMerge.merged(current: $0, loaded: session.storedValues, changed: session.values)
        } ?? session.values
        logger.debug("merged a save with a concurrent write to the same session", metadata: ["table": "\(table.displayName)"])
        return try plannedWrite(write.kind, of: session, values: merged, over: fingerprint)
    }

    private func planSave(_ session: Session) throws -> SavePlan {
        let kind: Write.Kind? =
            if session.isNew { .insert }
            else if session.storedValues != session.values { .update }
            else if session.touchDue { .touch }
            else { nil }
        let write = try kind.map { try plannedWrite($0, of: session, values: session.values, over: session.storedFingerprint) }
        return SavePlan(write: write, cookie: cookie(for: session))
    }

    /// The statement that writes `values` as `kind` says, for a row whose data has `fingerprint`.
    private func plannedWrite(_ kind: Write.Kind, of session: Session, values: [String: SessionValue], over fingerprint: DataFingerprint?)
        throws -> Write
    {
        let lifetime = PGValue.float8(Double(rowMaxAge(session.options)))
        let basis = fingerprint.map { PGValue.bytea($0.parameter) } ?? .null
        switch kind {
        case .insert:
            let data = try seal(values, id: session.id)
            return Write(
                kind: kind, sql: table.insertSQL, parameters: [.text(session.id), .bytea(data), lifetime], findsRow: false,
                values: values, fingerprint: DataFingerprint(of: data))
        case .update:
            let data = try seal(values, id: session.id)
            // The expiry moves when it is due, as an unchanged session's does, or when the
            // session's row lifetime is not the store's (a max age of its own). Otherwise it
            // stays: an UPDATE that changes no indexed column (expires_on is indexed) is a HOT
            // update, in place, without new index entries, about a third of the server's work
            // for a changed session's save. A browser-session cookie (maxAge 0) has the store's
            // row lifetime, so it is no exception.
            let movesExpiry = session.touchDue || rowMaxAge(session.options) != rowMaxAge(configuration.sessionOptions)
            let (sql, parameters): (String, [PGValue]) = movesExpiry
                ? (table.updateSQL, [.text(session.id), .bytea(data), lifetime, basis])
                : (table.updateDataSQL, [.text(session.id), .bytea(data), basis])
            return Write(
                kind: kind, sql: sql, parameters: parameters, findsRow: true,
                values: values, fingerprint: DataFingerprint(of: data))
        case .touch:
            return Write(
                kind: kind, sql: table.touchSQL, parameters: [.text(session.id), lifetime], findsRow: true,
                values: values, fingerprint: fingerprint)
        case .regenerate(let newID, let userID):
            let data = try seal(values, id: newID)
            let (sql, parameters): (String, [PGValue]) = switch (session.isNew, userID) {
            case (true, let userID?): (table.insertBoundSQL, [.text(newID), .bytea(data), lifetime, .text(userID)])
            case (true, nil): (table.insertSQL, [.text(newID), .bytea(data), lifetime])
            case (false, _) where bindsUsers:
                (table.regenerateSQL, [.text(session.id), .text(newID), .bytea(data), lifetime, userID.map(PGValue.text) ?? .null, basis])
            case (false, _): (table.regenerateUnboundSQL, [.text(session.id), .text(newID), .bytea(data), lifetime, basis])
            }
            return Write(
                kind: kind, sql: sql, parameters: parameters, findsRow: !session.isNew, values: values,
                fingerprint: DataFingerprint(of: data))
        }
    }

    /// Gives the session a new ID (call it at login, against session fixation): values kept, the
    /// old row deleted and the new one written in one statement, so the old cookie finds nothing.
    ///
    /// Save the session afterwards only if you change it again; the returned cookie is already
    /// the new one. Like ``save(_:)``, it merges this session's changes with a concurrent
    /// request's write to the old row instead of undoing it.
    /// - Parameters:
    ///   - session: the session; on return it has its new ID and counts as stored.
    ///   - userID: the user who just logged in, to bind the session to, so that
    ///     ``destroySessions(ofUser:except:)`` can log them out everywhere. `nil` (the default)
    ///     keeps the binding the session had, if any. The table stores it in the clear, in
    ///     `user_id`: pass an identifier, not a secret.
    /// - Returns: the `Set-Cookie` field carrying the new ID.
    /// - Throws: ``SessionStoreError/Code/sessionNotFound`` when the stored row is already gone,
    ///   ``SessionStoreError/Code/dataTooLarge``, ``SessionStoreError/Code/incompatibleTable``
    ///   when a `userID` is given and the table predates user bindings, or `PGError`.
    @discardableResult
    public nonisolated(nonsending) func regenerateID(_ session: inout Session, userID: String? = nil) async throws -> HTTPField {
        // The new ID, its sealed data and its cookie in one visit to the actor; the statement after.
        let plan = try await planRegeneration(session, userID: userID)
        let written = try await perform(plan.write, for: session)
        session.id = plan.newID
        session.markStored(written.values, fingerprint: written.fingerprint)
        return plan.cookie
    }

    private struct RegenerationPlan: Sendable {
        let newID: String
        let write: Write
        let cookie: HTTPField
    }

    private func planRegeneration(_ session: Session, userID: String?) throws -> RegenerationPlan {
        if userID != nil && !bindsUsers { throw Self.noUserColumn(table) }
        var renamed = session
        renamed.id = newSessionID()
        let write = try plannedWrite(
            .regenerate(newID: renamed.id, userID: userID), of: session, values: session.values, over: session.storedFingerprint)
        return RegenerationPlan(newID: renamed.id, write: write, cookie: cookie(for: renamed))
    }

    /// Logs a user out everywhere (after a password change, say): deletes every session bound to
    /// `userID` by ``regenerateID(_:userID:)``, except the one whose ID is `keptID`. Their
    /// cookies then give fresh sessions; a request of theirs still running cannot save them back
    /// (its save throws ``SessionStoreError/Code/sessionNotFound``).
    ///
    /// - Parameters:
    ///   - userID: the user whose sessions go.
    ///   - keptID: the ID of a session to keep, such as the current request's (``Session/id``), or
    ///     `nil` to delete them all.
    /// - Returns: the number of sessions deleted.
    /// - Throws: ``SessionStoreError/Code/incompatibleTable`` when the table predates user
    ///   bindings (schema 1, and this role may not migrate it), or `PGError`.
    @discardableResult
    public nonisolated(nonsending) func destroySessions(ofUser userID: String, except keptID: String? = nil) async throws -> Int {
        if !bindsUsers { throw Self.noUserColumn(table) }
        return try await pool.query(table.deleteUserSQL, [.text(userID), keptID.map(PGValue.text) ?? .null]).affectedRows
    }

    /// Deletes the session's row and returns an expiring cookie. The session becomes a fresh,
    /// empty one with a new ID.
    /// - Returns: the `Set-Cookie` field that removes the cookie.
    /// - Throws: `PGError` when the database fails.
    @discardableResult
    public nonisolated(nonsending) func destroy(_ session: inout Session) async throws -> HTTPField {
        if !session.isNew {
            _ = try await pool.query(table.deleteSQL, [.text(session.id)], groupCommitKey: session.id)
        }
        let field = HTTPField(
            name: .setCookie,
            value: Cookie.setCookie(name: session.name, value: nil, options: session.options, now: Cookie.unixNow()))
        session = await successor(of: session)
        return field
    }

    /// The fresh session that replaces a destroyed one: same name, the destroyed one's options
    /// (its max age back to the store's when it was negative, the request to delete).
    private func successor(of session: Session) -> Session {
        var options = session.options
        if options.maxAge < 0 { options.maxAge = configuration.sessionOptions.maxAge }
        var successor = fresh(session.name, .requested)
        successor.options = options
        return successor
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

    private func cookie(for session: Session) -> HTTPField {
        let now = Cookie.unixNow()
        let value = codec.sealCookie(id: Base64URL.decode(Substring(session.id).utf8) ?? [], name: session.name, issuedAt: now)
        return HTTPField(name: .setCookie, value: Cookie.setCookie(name: session.name, value: value, options: session.options, now: now))
    }

    /// A loaded session's expiry is due to move once less than this many seconds are left. Kept
    /// outside the actor's state, since `get` passes it to its SELECT before it enters the actor;
    /// ``setMaxAge(_:)`` updates it.
    nonisolated var touchThreshold: Double {
        Double(bitPattern: touchThresholdBits.load(ordering: .relaxed))
    }

    private static func touchThreshold(_ configuration: Configuration) -> Double {
        Double(rowMaxAge(configuration.sessionOptions, storeMaxAge: configuration.sessionOptions.maxAge))
            * (1 - min(max(configuration.touchFraction, 0), 1))
    }

    /// The row's lifetime: the session's max age, or the store's for browser-session cookies.
    private func rowMaxAge(_ options: SessionOptions) -> Int {
        Self.rowMaxAge(options, storeMaxAge: configuration.sessionOptions.maxAge)
    }

    private static func rowMaxAge(_ options: SessionOptions, storeMaxAge: Int) -> Int {
        if options.maxAge > 0 { return options.maxAge }
        return storeMaxAge > 0 ? storeMaxAge : 86_400 * 30
    }

    private static func noUserColumn(_ table: SessionTable) -> SessionStoreError {
        SessionStoreError(.incompatibleTable, """
            table \(table.displayName) has no user_id column (schema 1), which binding sessions to users needs; \
            start the store once with a role that may alter the table to migrate it
            """)
    }

    private static var gone: SessionStoreError {
        SessionStoreError(.sessionNotFound, "the session's row is gone (destroyed or expired); it was not saved")
    }
}
