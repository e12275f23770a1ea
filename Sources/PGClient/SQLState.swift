/// A PostgreSQL error code (SQLSTATE), such as `23505` for a unique violation.
///
/// Match on the named constants rather than on error text, which is localised and may change.
public struct SQLState: Hashable, Sendable, CustomStringConvertible {
    /// The five-character code, for example `"23505"`.
    public let code: String

    /// Wraps a five-character SQLSTATE code.
    public init(_ code: String) { self.code = code }

    /// A short text for logs; it never contains secrets.
    public var description: String { code }

    /// `23505`: a unique constraint was violated.
    public static let uniqueViolation = SQLState("23505")
    /// `22012`: division by zero.
    public static let divisionByZero = SQLState("22012")
    /// `42P01`: the table does not exist.
    public static let undefinedTable = SQLState("42P01")
    /// `42P07`: the table (or other relation) already exists.
    public static let duplicateTable = SQLState("42P07")
    /// `42501`: the role lacks a privilege.
    public static let insufficientPrivilege = SQLState("42501")
    /// `42601`: a syntax error in the SQL.
    public static let syntaxError = SQLState("42601")
    /// `57014`: the statement was cancelled.
    public static let queryCanceled = SQLState("57014")
    /// `57P01`: the server is shutting down (admin shutdown or `pg_terminate_backend`).
    public static let adminShutdown = SQLState("57P01")
    /// `40001`: a serialization failure; the transaction may be retried.
    public static let serializationFailure = SQLState("40001")
    /// `40P01`: a deadlock was detected.
    public static let deadlockDetected = SQLState("40P01")
    /// `23514`: a check constraint was violated.
    public static let checkViolation = SQLState("23514")
    /// `23502`: a NOT NULL constraint was violated.
    public static let notNullViolation = SQLState("23502")
    /// `22P02`: text could not be parsed as the target type.
    public static let invalidTextRepresentation = SQLState("22P02")
    /// `22021`: a byte sequence is invalid in the server encoding (for example a NUL in text).
    public static let characterNotInRepertoire = SQLState("22021")
    /// `26000`: the named prepared statement does not exist.
    public static let invalidSQLStatementName = SQLState("26000")
}
