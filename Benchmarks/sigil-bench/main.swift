// Micro-benchmarks that compare Sigil's protocol code with the raw cryptography it cannot beat,
// measured in the same run. Not part of the tests: `swift run -c release sigil-bench`.
import Crypto
import Foundation
import SigilCore
import SigilWebAuthn

if CommandLine.arguments.dropFirst().first == "signing" {
    try runSigningBench(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "oidc-flow" {
    try await runOIDCFlowBench(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "token" {
    try await runTokenBench(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "idtoken" {
    try runIDTokenBench(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "saml" {
    try runSAMLBench(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "idv" {
    try await runIDVBench(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "authenticator" {
    try await runAuthenticatorBench(arguments: Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}

@inline(never)
func measure(_ name: String, seconds: Double = 2, _ body: () throws -> Void) rethrows -> Double {
    // Warm up, then count iterations in a fixed wall-clock window.
    for _ in 0..<200 { try body() }
    let clock = ContinuousClock()
    let start = clock.now
    var iterations = 0
    while clock.now - start < .seconds(seconds) {
        for _ in 0..<100 { try body() }
        iterations += 100
    }
    let elapsed = clock.now - start
    let perSecond = Double(iterations) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    print(String(format: "%-44@ %12.0f /s", name as NSString, perSecond))
    return perSecond
}

// A passkey assertion made here with a software P-256 key, exactly as an authenticator would.
let key = P256.Signing.PrivateKey()
let rp = RelyingParty(id: "localhost", origins: ["http://localhost:8080"])
let challenge = Array(repeating: UInt8(7), count: 32)
let clientDataJSON = Array(#"{"type":"webauthn.get","challenge":"\#(Base64URL.encode(challenge))","origin":"http://localhost:8080","crossOrigin":false}"#.utf8)
var authenticatorData = rp.idHash
authenticatorData.append(0x05) // UP | UV
authenticatorData += [0, 0, 0, 9] // sign count 9
let signed = authenticatorData + Array(SHA256.hash(data: clientDataJSON))
let signature = Array(try key.signature(for: signed).derRepresentation)
let credentialID: [UInt8] = Array(repeating: 1, count: 16)

// COSE_Key for the public key: {1: 2, 3: -7, -1: 1, -2: x, -3: y}
let point = Array(key.publicKey.x963Representation)
let coseKey: [UInt8] = [0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20] + point[1..<33] + [0x22, 0x58, 0x20] + point[33..<65]

let verifier = WebAuthnVerifier(relyingParty: rp)
let response = AssertionResponse(
    credentialID: credentialID, clientDataJSON: clientDataJSON, authenticatorData: authenticatorData,
    signature: signature)
let stored = StoredCredential(id: credentialID, publicKey: coseKey, signCount: 3)
_ = try verifier.verifyAssertion(response, expectedChallenge: challenge, credential: stored) // must verify

print("Sigil micro-benchmarks (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
let ecdsa = try P256.Signing.ECDSASignature(derRepresentation: signature)
// Baseline and subject alternate in short rounds, so load that comes and goes during the run
// affects both alike and the ratio stays meaningful on a busy machine.
var rawTime = Duration.zero, fullTime = Duration.zero, rawCount = 0, fullCount = 0
let clock = ContinuousClock()
for _ in 0..<20 {
    let a = clock.now
    for _ in 0..<300 { precondition(key.publicKey.isValidSignature(ecdsa, for: SHA256.hash(data: signed))) }
    rawTime += clock.now - a
    rawCount += 300
    let b = clock.now
    for _ in 0..<300 { _ = try verifier.verifyAssertion(response, expectedChallenge: challenge, credential: stored) }
    fullTime += clock.now - b
    fullCount += 300
}
func rate(_ count: Int, _ time: Duration) -> Double {
    Double(count) / (Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18)
}
let raw = rate(rawCount, rawTime), full = rate(fullCount, fullTime)
print(String(format: "%-44@ %12.0f /s", "raw P-256 ECDSA verify (swift-crypto)" as NSString, raw))
print(String(format: "%-44@ %12.0f /s", "passkey assertion verify (SigilWebAuthn)" as NSString, full))
print(String(format: "ratio assertion/raw: %.2f (goal ≥ 0.70)", full / raw))
print("where the time goes (each alone):")
_ = try measure("  clientDataJSON parse") { _ = try CollectedClientData(json: clientDataJSON) }
_ = try measure("  COSE key parse (CBOR + point check)") { _ = try COSEKey(encoded: coseKey) }
_ = try measure("  P-256 public key from X9.63") { _ = try P256.Signing.PublicKey(x963Representation: point) }
_ = try measure("  DER signature parse") { _ = try P256.Signing.ECDSASignature(derRepresentation: signature) }
_ = try measure("  P-256 verify with a freshly parsed key") {
    let fresh = try P256.Signing.PublicKey(x963Representation: point)
    precondition(fresh.isValidSignature(ecdsa, for: SHA256.hash(data: signed)))
}
_ = measure("  P-256 verify with a reused key") {
    precondition(key.publicKey.isValidSignature(ecdsa, for: SHA256.hash(data: signed)))
}
