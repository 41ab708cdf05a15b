import AuthenticatorKit
import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilQR
import Testing

@testable import sigil_authenticator

#if canImport(Glibc)
import Glibc
#endif

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "sigil-authenticator-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func mode(_ path: String) -> mode_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
}

private func sampleEnrolment(_ keys: SoftwareKeyStore) async throws -> Enrolment {
    let key = try await keys.generateKey()
    return Enrolment(
        issuer: FakeServer.issuer, deviceID: FakeServer.deviceID, userID: "usr_01jbz6vq0e7h2k5n8r1t4w7y0b",
        email: "ada@example.com", name: "Test CLI", tenant: "Acme", key: key.handle, keyProtection: .software,
        clockOffset: -7, createdAt: "2027-01-15T08:00:00Z")
}

@Suite(.serialized) struct CLITests {
    @Test func theStateFileIsWritten0600AndRoundTripsTheKey() async throws {
        let home = try temporaryDirectory() + "/home"
        let keys = SoftwareKeyStore()
        let store = try FileEnrolmentStore(directory: home, keys: keys)
        #expect(mode(home) == 0o700)
        let enrolment = try await sampleEnrolment(keys)
        try await store.save([enrolment])
        try store.updateClaimed {
            $0.append(
                .init(
                    issuer: FakeServer.issuer, transaction: FakeServer.loginTx,
                    expiresAt: "2027-01-15T08:02:00Z", deviceID: FakeServer.deviceID))
        }
        #expect(mode(home + "/state.json") == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: home).filter { $0.hasPrefix(".state.json") }
        #expect(leftovers.isEmpty)

        // A fresh process (new key store) reads the same enrolment and key back.
        let keys2 = SoftwareKeyStore()
        let loaded = try await FileEnrolmentStore(directory: home, keys: keys2).load()
        #expect(loaded == [enrolment])
        let message = Array("hello".utf8)
        let der = try await keys2.sign(message, with: loaded[0].key)
        #expect(
            DeviceSignature.verify(
                Base64URL.encode(der), message: message,
                publicKey: Base64URL.encode(keys.publicKey(enrolment.key) ?? [])))
        // Saving enrolments keeps the claimed list.
        try await store.save(loaded)
        #expect(try store.claimed().map(\.transaction) == [FakeServer.loginTx])

        let json = try String(contentsOfFile: home + "/state.json", encoding: .utf8)
        #expect(json.contains("\"version\" : 1") && json.contains("\"private_key\"") && json.contains("\"clock_offset\" : -7"))
    }

    @Test func aStateFileOthersCanReadIsRefused() async throws {
        let home = try temporaryDirectory()
        let keys = SoftwareKeyStore()
        let store = try FileEnrolmentStore(directory: home, keys: keys)
        try await store.save([try await sampleEnrolment(keys)])
        #expect(chmod(home + "/state.json", 0o644) == 0)

        let failure = await #expect(throws: CLIFailure.self) { _ = try await store.load() }
        #expect(failure?.exitCode == 2)
        #expect(failure?.message.contains("chmod 600 \(home)/state.json") == true)
        // The command line refuses too, with exit code 2.
        #expect(await SigilAuthenticatorCommand.run(["list", "--home", home]) == 2)
        #expect(chmod(home + "/state.json", 0o600) == 0)
        #expect(await SigilAuthenticatorCommand.run(["list", "--home", home]) == 0)
    }

    @Test func exitCodesForUsageAndNotEnrolled() async throws {
        let home = try temporaryDirectory()
        #expect(await SigilAuthenticatorCommand.run(["frobnicate"]) == 2)
        #expect(await SigilAuthenticatorCommand.run(["scan", "--home", home, "not a code"]) == 2)
        // A login code for an issuer this device is not enrolled with: exit 3, nothing sent.
        #expect(await SigilAuthenticatorCommand.run(["scan", "--home", home, "--via", "http://127.0.0.1:9", Harness.loginLink.url]) == 3)
        #expect(await SigilAuthenticatorCommand.run(["pending", "--home", home]) == 3)
    }

    @Test func scanReadsTheQRCodeInAPNG() throws {
        let dir = try temporaryDirectory()
        let payload = Harness.loginLink.url
        let png = try QRCode.encode(payload).png(scale: 6, quietZone: 4)
        #expect(png.starts(with: pngSignature))
        let path = dir + "/qr.png"
        try Data(png).write(to: URL(fileURLWithPath: path))
        #expect(try readCodeInput(path) == payload)
        guard case .login(let code) = try Authenticator.parse(try readCodeInput(path)) else {
            Issue.record("not a login code"); return
        }
        #expect(code.payload == Harness.loginLink)
        // Text arguments are the code itself; a PNG without a QR code is refused.
        #expect(try readCodeInput(payload) == payload)
        let blank = dir + "/blank.png"
        try Data(pngSignature + [0, 0, 0, 0]).write(to: URL(fileURLWithPath: blank))
        #expect(throws: CLIFailure.self) { try readCodeInput(blank) }
    }

    @Test func viaReplacesTheIssuerPrefix() {
        #expect(
            HTTPTransport.rewrite("https://id.example.com/t/acme/authenticator/v1/pending?wait=5", via: "http://127.0.0.1:8080/t/acme/")
                == "http://127.0.0.1:8080/t/acme/authenticator/v1/pending?wait=5")
        #expect(
            HTTPTransport.rewrite("https://acme.sigil.example/authenticator/v1/device", via: nil)
                == "https://acme.sigil.example/authenticator/v1/device")
    }
}

@Test func globalOptionsMayPrecedeTheCommand() {
    #expect(SigilAuthenticatorCommand.hoistingGlobals(["--home", "/x", "--json", "scan", "CODE"]) == ["scan", "--home", "/x", "--json", "CODE"])
    #expect(SigilAuthenticatorCommand.hoistingGlobals(["--via=http://h", "list"]) == ["list", "--via=http://h"])
    #expect(SigilAuthenticatorCommand.hoistingGlobals(["scan", "--home", "/x", "CODE"]) == ["scan", "--home", "/x", "CODE"])
    #expect(SigilAuthenticatorCommand.hoistingGlobals(["--home", "/x", "nope"]) == ["--home", "/x", "nope"])
}
