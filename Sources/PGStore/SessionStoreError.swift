/// An error of the session store itself. Database failures are thrown as `PGError` (with the
/// SQLSTATE and message); bad cookies are never errors (they give a fresh session).
public struct SessionStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as an extensible set of values.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate let name: String

        /// The session's row is gone (destroyed or expired, maybe by a concurrent request), so
        /// saving it would bring it back. Nothing was written; start a new session.
        public static let sessionNotFound = Code(name: "sessionNotFound")
        /// The encoded session is larger than the store's `maxLength`. Nothing was written.
        public static let dataTooLarge = Code(name: "dataTooLarge")
        /// A key has the wrong size, or no key was given.
        public static let invalidKey = Code(name: "invalidKey")
        /// The schema or table name is not a valid identifier.
        public static let invalidTableName = Code(name: "invalidTableName")
        /// The table exists with a layout this store cannot use.
        public static let incompatibleTable = Code(name: "incompatibleTable")
        /// A value could not be converted with `Codable`.
        public static let valueConversion = Code(name: "valueConversion")

        /// A short text for logs; it never contains secrets.
        public var description: String { name }
    }

    /// What went wrong.
    public let code: Code
    /// A message for people. It never contains cookie values, keys or session values.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A short text for logs; it never contains secrets.
    public var description: String { "SessionStoreError.\(code): \(message)" }
}
