import Foundation
import Testing
import PGClient

@Suite("Round trips of every decoded type")
struct TypeRoundTripTests {
    @Test func integers() async throws {
        try await withPool { pool in
            let row = try #require(try await pool.query(
                "SELECT $1::int8, $2::int4, $3::int2, $4::oid, $5::int8",
                [.int8(Int64.max), .int4(Int32.min), "-32768", "4000000000", .int8(-1)]).first)
            #expect(try row.decode(Int64.self, column: 0) == Int64.max)
            #expect(try row.decode(Int32.self, column: 1) == Int32.min)
            #expect(try row.decode(Int16.self, column: 2) == Int16.min)
            #expect(try row.decode(Int64.self, column: 3) == 4_000_000_000)
            #expect(try row.decode(Int.self, column: 4) == -1)
            // Narrowing that does not fit is an error, not a trap.
            #expect(throws: PGError.self) { try row.decode(Int32.self, column: 0) }
        }
    }

    @Test func floatsAndBooleans() async throws {
        try await withPool { pool in
            let row = try #require(try await pool.query(
                "SELECT $1::float8, $2::float4, $3::bool, $4::bool", [.float8(3.5), "1.25", true, .bool(false)]).first)
            #expect(try row.decode(Double.self, column: 0) == 3.5)
            #expect(try row.decode(Float.self, column: 1) == 1.25)
            #expect(try row.decode(Bool.self, column: 2) == true)
            #expect(try row.decode(Bool.self, column: 3) == false)
        }
    }

    @Test(arguments: ["", "plain", "it's \"quoted\" \\ back", "ünïcödé ☃ 日本語", "emoji 👩‍👩‍👧‍👦🎉"])
    func text(_ value: String) async throws {
        try await withPool { pool in
            let row = try #require(try await pool.query(
                "SELECT $1::text, $1::varchar, length($1::text)", [.text(value)]).first)
            #expect(try row.decode(String.self, column: 0) == value)
            #expect(try row.decode(String.self, column: 1) == value)
            #expect(try row.decode(Int.self, column: 2) == value.unicodeScalars.count)
        }
    }

    @Test func longText() async throws {
        let value = String(repeating: "ab\u{e9}", count: 50_000)
        try await withPool { pool in
            let row = try #require(try await pool.query("SELECT $1::text", [.text(value)]).first)
            #expect(try row.decode(String.self, column: 0) == value)
        }
    }

    @Test func textWithNulIsAClearError() async throws {
        try await withPool { pool in
            let error = await #expect(throws: PGError.self) {
                try await pool.query("SELECT $1::text", [.text("a\u{0}b")])
            }
            #expect(error?.code == .invalidParameter)
        }
    }

    @Test func nullsAndOptionals() async throws {
        try await withPool { pool in
            let row = try #require(try await pool.query("SELECT $1::text, $2::int8, NULL::bytea", [nil, .null]).first)
            #expect(try row.isNull(column: 0))
            #expect(try row.decodeIfPresent(String.self, column: 0) == nil)
            #expect(try row.decodeIfPresent(Int64.self, column: 1) == nil)
            #expect(try row.decodeIfPresent([UInt8].self, column: 2) == nil)
            // NULL where a value is required is an error, not a trap.
            #expect(throws: PGError.self) { try row.decode(String.self, column: 0) }
        }
    }

    @Test func oneMegabyteBytea() async throws {
        try await withPool { pool in
            var bytes = [UInt8](repeating: 0, count: 1 << 20)
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 31 &+ index >> 8) }
            let row = try #require(try await pool.query("SELECT $1::bytea, length($1::bytea)", [.bytea(bytes)]).first)
            #expect(try row.decode([UInt8].self, column: 0) == bytes)
            #expect(try row.decode(Int.self, column: 1) == 1 << 20)
        }
    }

    @Test func byteaWithoutCopying() async throws {
        try await withPool { pool in
            let bytes: [UInt8] = [0, 1, 2, 254, 255]
            let row = try #require(try await pool.query("SELECT $1::bytea, NULL::bytea", [.bytea(bytes)]).first)
            #expect(try row.withUnsafeBytes(column: 0) { Array($0) } == bytes)
            // NULL and a column out of range are errors, not an empty buffer or a trap.
            #expect(throws: PGError.self) { try row.withUnsafeBytes(column: 1) { $0.count } }
            #expect(throws: PGError.self) { try row.withUnsafeBytes(column: 2) { $0.count } }
        }
    }

    @Test func emptyValuesAreNotNull() async throws {
        try await withPool { pool in
            // An empty bytea alone leaves the parameter buffer empty: it must still travel as a
            // value, not as NULL.
            let alone = try #require(try await pool.query("SELECT $1::bytea IS NULL, length($1::bytea)", [.bytea([])]).first)
            #expect(try alone.decode(Bool.self, column: 0) == false)
            #expect(try alone.decode(Int.self, column: 1) == 0)
            let mixed = try #require(try await pool.query(
                "SELECT $1::bytea, $2::text, $3::int4, $4::text IS NULL, $5::bytea, $6::bool",
                [.bytea([]), "", .int4(-7), nil, .bytea([9, 8]), true]).first)
            #expect(try mixed.decode([UInt8].self, column: 0) == [])
            #expect(try mixed.decode(String.self, column: 1) == "")
            #expect(try mixed.decode(Int32.self, column: 2) == -7)
            #expect(try mixed.decode(Bool.self, column: 3) == true)
            #expect(try mixed.decode([UInt8].self, column: 4) == [9, 8])
            #expect(try mixed.decode(Bool.self, column: 5) == true)
        }
    }

    @Test func timestampsDatesUUIDsAndJSON() async throws {
        try await withPool { pool in
            let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
            let uuid = UUID()
            let row = try #require(try await pool.query(
                "SELECT $1::timestamptz, $1::timestamptz::timestamp AT TIME ZONE 'UTC', '2024-02-29'::date, $2::uuid, '{\"a\": 1}'::jsonb, '[1]'::json, 'infinity'::timestamptz",
                [.timestamptz(date), .uuid(uuid)]).first)
            let decoded = try row.decode(Date.self, column: 0)
            #expect(abs(decoded.timeIntervalSince(date)) < 0.000_001)
            #expect(abs(try row.decode(Date.self, column: 1).timeIntervalSince(date)) < 0.000_001)
            #expect(try row.decode(Date.self, column: 2) == Date(timeIntervalSince1970: 1_709_164_800))
            #expect(try row.decode(UUID.self, column: 3) == uuid)
            #expect(try row.decode(String.self, column: 4) == "{\"a\": 1}")
            #expect(try row.decode(String.self, column: 5) == "[1]")
            #expect(try row.decode(Date.self, column: 6) == .distantFuture)
        }
    }

    @Test func wrongTypeAndOutOfRangeAreErrors() async throws {
        try await withPool { pool in
            let result = try await pool.query("SELECT 1::int4 AS n, 'x'::text AS s")
            let row = try #require(result.first)
            #expect(throws: PGError.self) { try row.decode(String.self, column: 0) }
            #expect(throws: PGError.self) { try row.decode(Int.self, column: 1) }
            #expect(throws: PGError.self) { try row.decode(Int.self, column: 2) }
            #expect(throws: PGError.self) { try row.decode(Int.self, column: -1) }
            #expect(throws: PGError.self) { try result.row(1) }
            #expect(try row.decode(String.self, column: "s") == "x")
            #expect(result.columnName(0) == "n")
        }
    }

    @Test func manyRowsWithNullsKeepEachCellInPlace() async throws {
        try await withPool { pool in
            // Rows of different widths, every other value NULL, an empty string: each cell must
            // come back as its own row and column sent it.
            let result = try await pool.query(
                "SELECT g, CASE WHEN g % 2 = 0 THEN NULL ELSE repeat('x', g) END, '' FROM generate_series(1, 300) g")
            #expect(result.rowCount == 300)
            #expect(result.columnCount == 3)
            for (offset, row) in result.rows.enumerated() {
                let g = offset + 1
                #expect(try row.decode(Int.self, column: 0) == g)
                let text = try row.decodeIfPresent(String.self, column: 1)
                #expect(text == (g % 2 == 0 ? nil : String(repeating: "x", count: g)))
                #expect(try row.isNull(column: 1) == (g % 2 == 0))
                #expect(try row.decode(String.self, column: 2) == "")
            }
        }
    }

    @Test func columnsAreFoundByNameAsSQLFoldsThem() async throws {
        try await withPool { pool in
            let result = try await pool.query(#"SELECT 1 AS "MixedCase", 2 AS lower, 3 AS "with ""quote""""#)
            #expect(result.columnName(0) == "MixedCase")
            #expect(result.columnName(2) == #"with "quote""#)
            #expect(result.columnName(3) == nil)
            #expect(result.columnIndex(named: "MixedCase") == 0)  // exact
            #expect(result.columnIndex(named: #""MixedCase""#) == 0)  // quoted: case kept
            #expect(result.columnIndex(named: "mixedcase") == nil)  // folded, no such column
            #expect(result.columnIndex(named: "LOWER") == 1)  // unquoted: folded
            #expect(result.columnIndex(named: #""with ""quote""""#) == 2)
            #expect(result.columnIndex(named: "missing") == nil)
            #expect(result.columnIndex(named: "") == nil)
            let row = try #require(result.first)
            #expect(try row.decode(Int.self, column: "Lower") == 2)
            #expect(throws: PGError.self) { try row.decode(Int.self, column: "nope") }
        }
    }

    @Test func affectedRowsAndUnixSocket() async throws {
        let table = TestDatabase.uniqueName("affected")
        try await withPool { pool in
            _ = try await pool.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
            let insert = try await pool.query("INSERT INTO \(table) SELECT generate_series(1, 7)")
            #expect(insert.affectedRows == 7)
            #expect(insert.rowCount == 0)
            _ = try await pool.query("DROP TABLE \(table)")
        }
        let socketURL = try #require(TestDatabase.socketURL)
        let pool = try ConnectionPool(url: socketURL)
        let row = try #require(try await pool.query("SELECT current_setting('unix_socket_directories') <> ''").first)
        #expect(try row.decode(Bool.self, column: 0))
        await pool.close()
    }
}
