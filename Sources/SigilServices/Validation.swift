import Foundation

/// Small validators shared by the use cases. Each returns a client-safe message or nil.
public enum Validate {
    /// A rotation's overlap (the old secret or key still valid): 0 to 7 days.
    static func rotationOverlap(_ seconds: TimeInterval) throws {
        guard (0...(7 * 86_400)).contains(seconds) else {
            throw ServiceError.invalid([FieldError(field: "overlap_seconds", message: "overlap_seconds is 0 to 604800 (7 days)")])
        }
    }

    public static func email(_ value: String) -> String? {
        if value.isEmpty { return "email is required" }
        if value.utf8.count > 254 { return "email is longer than 254 characters" }
        if value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            return "email must not contain spaces or control characters"
        }
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return "email must look like name@example.com" }
        let local = parts[0], domain = parts[1]
        if local.utf8.count > 64 { return "the part of the email before @ is longer than 64 characters" }
        if local.hasPrefix(".") || local.hasSuffix(".") || local.contains("..") { return "email has misplaced dots" }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2,
            labels.allSatisfy({ label in
                !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains(Character($0)) || $0 == "-" }
            })
        else { return "email domain is not a valid domain name" }
        return nil
    }

    public static func name(_ value: String, field: String, max: Int = 200) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return "\(field) is required" }
        if value.count > max { return "\(field) is longer than \(max) characters" }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format && $0.value != 0x200D })
        {
            return "\(field) must not contain control characters"
        }
        return nil
    }

    /// Tenant slug: 1–63 of `a-z`, `0-9`, `-`, not starting or ending with `-`.
    public static func slug(_ value: String) -> String? {
        let ok =
            !value.isEmpty && value.count <= 63 && !value.hasPrefix("-") && !value.hasSuffix("-")
            && value.unicodeScalars.allSatisfy { ("a"..."z").contains(Character($0)) || ("0"..."9").contains(Character($0)) || $0 == "-" }
        return ok ? nil : "tenant name must be 1–63 lowercase letters, digits or hyphens, not starting or ending with a hyphen"
    }

    /// A host name, optionally with `:port`, lowercase.
    public static func host(_ value: String) -> String? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return "host must be a host name, optionally with :port" }
        if parts.count == 2, Int(parts[1]).map({ (1...65535).contains($0) }) != true { return "host has an invalid port" }
        let labels = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        let ok =
            !labels.isEmpty && parts[0].count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.unicodeScalars.allSatisfy { ("a"..."z").contains(Character($0)) || ("0"..."9").contains(Character($0)) || $0 == "-" }
            }
        return ok ? nil : "host must be a lowercase DNS name such as acme.example.com"
    }

    /// An absolute URL a browser is redirected to. `https` anywhere; `http` only for loopback
    /// (RFC 8252 §7.3); private-use schemes (`com.example.app:/cb`) only for public clients.
    public static func redirectURI(_ value: String, allowCustomScheme: Bool) -> String? {
        guard let components = URLComponents(string: value), let scheme = components.scheme?.lowercased() else {
            return "\(value) is not an absolute URI"
        }
        if components.fragment != nil { return "\(value) must not contain a fragment (RFC 6749 §3.1.2)" }
        switch scheme {
        case "https":
            guard let host = components.host, !host.isEmpty else { return "\(value) has no host" }
            return nil
        case "http":
            guard let host = components.host?.lowercased(), ["localhost", "127.0.0.1", "[::1]", "::1"].contains(host) else {
                return "\(value) uses http: only loopback addresses (localhost, 127.0.0.1, [::1]) may"
            }
            return nil
        case "javascript", "data", "file", "vbscript":
            return "\(value) uses a forbidden scheme"
        default:
            if !allowCustomScheme { return "\(value): private-use URI schemes are only for public (native) clients" }
            guard scheme.contains(".") else { return "\(value): a private-use scheme must be a reverse domain name (RFC 8252 §7.1)" }
            return nil
        }
    }

    public static func absoluteURL(_ value: String, field: String) -> String? {
        guard let components = URLComponents(string: value), let scheme = components.scheme?.lowercased(),
            ["https", "http"].contains(scheme), components.host?.isEmpty == false
        else {
            return "\(field) must be an absolute http(s) URL"
        }
        return nil
    }
}
