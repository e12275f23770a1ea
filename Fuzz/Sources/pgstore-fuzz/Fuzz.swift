// libFuzzer entry point for the store's parsing and codec code: everything the bytes of a
// request (its `Cookie` header) reach before a query is sent, and the decoder behind the data
// seal. Each input's first byte picks a target; the rest is the target's input. A target traps
// (`fatalError`) only when an invariant the store relies on breaks: that is what libFuzzer
// reports as a finding, next to the traps and memory errors it catches by itself.
//
// Built and run by scripts/fuzz, which passes `-sanitize=fuzzer,address`. Needs a debug build:
// `@testable` reaches the internal codec without widening the library's API for the fuzzer.
import CLibFuzzer
import Crypto
@testable import PGStore

#if canImport(Glibc)
import Glibc
#endif

@main
enum FuzzMain {
    /// Hands the command line (corpus folders, libFuzzer's flags) to libFuzzer, which then calls
    /// ``fuzzOneInput(_:_:)`` for each input it tries.
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}

/// What every input is checked against, made once: a signed+encrypted codec (the one cookies are
/// opened with), a signed-only one, and a cookie that opens.
private struct Fixture {
    let encrypted: SessionCodec
    let signed: SessionCodec
    let id: String
    let cookie: String
    let now: Int64
    static let name = "sid"
    static let maxAge = 86_400
    static let hashKey = [UInt8](repeating: 0x11, count: 32)
    static let encryptionKey = [UInt8](repeating: 0x22, count: 32)

    init() {
        let rawID = [UInt8](0..<32)
        guard let encrypted = try? SessionCodec(keys: [SessionKey(hashKey: Self.hashKey, encryptionKey: Self.encryptionKey)]),
            let signed = try? SessionCodec(keys: [SessionKey(hashKey: Self.hashKey)])
        else { fatalError("the fuzzer's keys are rejected") }
        (self.encrypted, self.signed) = (encrypted, signed)
        now = Cookie.unixNow()
        id = Base64URL.encode(rawID)
        cookie = encrypted.sealCookie(id: rawID, name: Self.name, issuedAt: now)
    }

    /// Opens a cookie value as `get` does for one it cannot claim (and did before 2026-12-01).
    func open(_ value: Substring) -> Result<String, SessionCodec.CookieFailure> {
        encrypted.openCookie(value, name: Self.name, now: now, maxAge: Self.maxAge)
    }

    /// Opens a claimed cookie as `get` does after its query.
    func open(_ claimed: SessionCodec.ClaimedCookie) -> Result<String, SessionCodec.CookieFailure> {
        encrypted.openCookie(claimed, name: Self.name, now: now, maxAge: Self.maxAge)
    }

    /// `body` in the layout of values sealed before 2026-12-02 (version 2), signed with the
    /// fixture's hash key: `2 | header | body | HMAC-SHA256(tag | context length (4 bytes,
    /// big-endian) | context | 2 | header | body)`. Written out here rather than taken from the
    /// codec, which no longer seals it: the harness is the second opinion on the layout.
    static func legacySigned(_ body: [UInt8], header: [UInt8], context: String, tag: UInt8) -> [UInt8] {
        let signed = [SessionCodec.encryptedVersion] + header + body
        let context = Array(context.utf8)
        let length = withUnsafeBytes(of: UInt32(context.count).bigEndian) { Array($0) }
        let mac = HMAC<SHA256>.authenticationCode(for: [tag] + length + context + signed, using: SymmetricKey(data: hashKey))
        return signed + Array(mac)
    }

    /// `plaintext` AES-GCM sealed as version 2 bodies were: the tag and the context as associated
    /// data, `nonce | ciphertext | tag`.
    static func legacyBox(_ plaintext: [UInt8], context: String, tag: UInt8) -> [UInt8]? {
        let box = try? AES.GCM.seal(plaintext, using: SymmetricKey(data: encryptionKey), authenticating: [tag] + Array(context.utf8))
        return box?.combined.map { Array($0) }
    }
}

private let fixture = Fixture()

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant broken: \(message())") }
}

/// Also exported under libFuzzer's conventional name, which its runtime's own `main` (linked in
/// although ours runs) refers to.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 6 {
    case 0: cookieHeader(String(decoding: input, as: UTF8.self))
    case 1: cookieHeader(splicingTheValidCookieInto: input)
    case 2: base64URL(input)
    case 3: valueEncoding(input)
    case 4: sealedData(input)
    default: legacyEncrypted(input)
    }
    return 0
}

/// A header goes through what `get` does before and after its query: every `sid` cookie in it
/// (as many as the header holds, not just the four `get` tries), the ID a cookie claims, and
/// both ways of opening it. Only the fixture's own cookie may open, and both ways must agree.
/// Returns whether the fixture's cookie opened.
@discardableResult
private func cookieHeader(_ header: String) -> Bool {
    var openedFixture = false
    var from = 0
    while let (value, next) = Cookie.value(named: Fixture.name, in: header, from: from) {
        require(next > from, "the cookie scan did not advance from \(from)")
        from = next
        let direct = fixture.open(value)
        let claimed = SessionCodec.claimedCookie(in: value)
        let viaClaim = claimed.map { fixture.open($0) }
        if case .success(let id) = direct {
            require(value == fixture.cookie && id == fixture.id, "a cookie other than the fixture's opened: \(value)")
            openedFixture = true
        }
        if let viaClaim {
            require(claimed?.id.utf8.count == 43, "a claimed ID is not 32 bytes of base64url")
            switch (viaClaim, direct) {
            case (.success(let a), .success(let b)): require(a == b, "the two ways of opening disagree on the ID")
            case (.failure, .failure): break
            default: require(false, "the two ways of opening disagree: \(value)")
            }
        }
    }
    return openedFixture
}

/// The fixture's valid cookie placed among fuzzed bytes: the scan must find it and it must open
/// (to its own ID, whatever surrounds it); then the same cookie edited at one place must not.
private func cookieHeader(splicingTheValidCookieInto input: [UInt8]) {
    let cut = input.isEmpty ? 0 : Int(input[0]) % input.count
    let before = String(decoding: input[..<cut], as: UTF8.self)
    let after = String(decoding: input[cut...], as: UTF8.self)
    // Whatever `before` holds, the "; " ends its last pair, so the scan must reach the cookie.
    let opened = cookieHeader(before + "; \(Fixture.name)=\(fixture.cookie);" + after)
    require(opened, "the valid cookie was not found among \(input)")
    // The fixture's cookie, edited at one place: it must never open.
    guard input.count >= 3 else { return }
    var edited = Array(fixture.cookie.utf8)
    let position = Int(input[1]) % edited.count
    switch input[0] % 3 {
    case 0 where edited[position] != input[2]: edited[position] = input[2]
    case 1: edited.insert(input[2], at: position)
    case 2: edited.remove(at: position)
    default: return
    }
    let value = String(decoding: edited, as: UTF8.self)
    guard value != fixture.cookie else { return }
    if case .success = fixture.open(Substring(value)) { require(false, "an edited cookie opened: \(value)") }
}

/// Decoding accepts only canonical text (it re-encodes to itself), and encoding round-trips.
private func base64URL(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    if let decoded = Base64URL.decode(Substring(text).utf8) {
        require(Base64URL.encode(decoded) == text, "\(text) decoded but is not canonical")
    }
    let encoded = Base64URL.encode(input)
    require(Base64URL.decode(Substring(encoded).utf8) == input, "encoding did not round-trip")
}

/// Whatever decodes re-encodes to bytes that decode to the same encoding (NaN payloads and
/// duplicate keys included, hence the comparison of encodings rather than values).
private func valueEncoding(_ input: [UInt8]) {
    guard let values = try? ValueEncoding.decode(input) else { return }
    let encoded = ValueEncoding.encode(values)
    guard let again = try? ValueEncoding.decode(encoded) else {
        require(false, "a re-encoding does not decode")
        return
    }
    require(ValueEncoding.encode(again) == encoded, "re-encoding is not stable")
}

/// Random bytes never open as sealed data; bytes sealed open to themselves, and to nothing once
/// a byte of the seal is changed.
private func sealedData(_ input: [UInt8]) {
    for codec in [fixture.encrypted, fixture.signed] {
        require(codec.openData(input, sessionID: fixture.id) == nil, "fuzzed bytes opened as sealed data")
        guard let sealed = try? codec.sealData(input, sessionID: fixture.id) else {
            require(false, "sealing failed")
            return
        }
        require(codec.openData(sealed, sessionID: fixture.id) == input, "sealed data did not open to itself")
        guard !input.isEmpty else { continue }
        var tampered = sealed
        tampered[Int(input[0]) % tampered.count] ^= 0x01
        require(codec.openData(tampered, sessionID: fixture.id) == nil, "tampered sealed data opened")
    }
}

/// Cookies and rows in the layout sealed before 2026-12-02 (version 2), which the store still
/// opens but no longer makes, so no fuzzed input reached past their MAC before: the harness
/// signs the fuzzed bytes itself, and they reach the AES-GCM box parsing and opening behind
/// it. A fuzzed box never opens; the input properly sealed opens to itself as a row, and as a
/// cookie exactly when it is an ID's 32 bytes (to that ID).
private func legacyEncrypted(_ input: [UInt8]) {
    let issuedAt = withUnsafeBytes(of: fixture.now.bigEndian) { Array($0) }
    // A body signed as a version 2 row of the fixture's session, and as its cookie.
    func row(_ body: [UInt8]) -> [UInt8] {
        Fixture.legacySigned(body, header: [], context: fixture.id, tag: SessionCodec.dataTag)
    }
    func cookie(_ body: [UInt8]) -> Substring {
        Substring(Base64URL.encode(Fixture.legacySigned(body, header: issuedAt, context: Fixture.name, tag: SessionCodec.cookieTag)))
    }

    require(fixture.encrypted.openData(row(input), sessionID: fixture.id) == nil, "a signed, fuzzed box opened as a row")
    if case .success = fixture.open(cookie(input)) { require(false, "a signed, fuzzed box opened as a cookie") }

    guard let rowBox = Fixture.legacyBox(input, context: fixture.id, tag: SessionCodec.dataTag),
        let cookieBox = Fixture.legacyBox(input, context: Fixture.name, tag: SessionCodec.cookieTag)
    else {
        require(false, "sealing failed")
        return
    }
    let sealedRow = row(rowBox)
    require(fixture.encrypted.openData(sealedRow, sessionID: fixture.id) == input, "a version 2 row did not open to what it sealed")
    require(fixture.signed.openData(sealedRow, sessionID: fixture.id) == nil, "a version 2 row opened without its encryption key")
    switch fixture.open(cookie(cookieBox)) {
    case .success(let id): require(input.count == 32 && id == Base64URL.encode(input), "a version 2 cookie opened to \(id)")
    case .failure: require(input.count != 32, "a version 2 cookie with a 32-byte ID did not open")
    }
}
