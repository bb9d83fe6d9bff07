import Foundation
import PortcullisPolicy

/// One decided target, printed as a table row or a JSON object (the shape of the API's
/// explain answer).
struct DecisionReport {
    let input: String
    let target: Target
    let decision: Decision
    /// The address that would be dialled (or the first refused one).
    let address: IPAddress?

    var portText: String { target.port.map { ":\($0)" } ?? "" }

    var json: [String: Any] {
        var object: [String: Any] = [
            "target": input,
            "host": decision.host.description,
            "action": decision.verdict.rawValue,
            "would_reject": decision.wouldReject,
            "stage": decision.stage.rawValue,
            "reason": decision.reason,
            "mode": decision.mode.rawValue,
            "policy_version": decision.policyVersion,
            "pending": decision.joinsPending,
        ]
        object["port"] = target.port.map { Int($0) } ?? NSNull()
        object["rule_id"] = decision.ruleID ?? NSNull()
        object["rejected_by"] = decision.rejectedBy ?? NSNull()
        object["address"] = address?.description ?? NSNull()
        return object
    }

    var jsonLine: String {
        let data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// ALLOW / WARN / REJECT, with AUDIT marking what enforcement would reject.
    var verdictText: String {
        switch decision.verdict {
        case .allow: return decision.wouldReject ? "ALLOW (would reject)" : "ALLOW"
        case .warn: return "WARN"
        case .reject: return "REJECT"
        }
    }

    var decidedBy: String {
        decision.rejectedBy ?? decision.ruleID.map { "rule \($0)" } ?? "mode:\(decision.mode)"
    }

    static func table(_ reports: [DecisionReport]) -> [String] {
        let rows = reports.map { r in
            [r.verdictText, Escape.escaped(r.decision.host.description) + r.portText, r.decidedBy, r.decision.stage.rawValue, r.decision.reason]
        }
        let header = ["DECISION", "TARGET", "DECIDED BY", "STAGE", "REASON"]
        return TextTable.render(header: header, rows: rows)
    }
}

/// Aligned plain-text tables for people. Cells are shown safe for a terminal: a control
/// character (a name or note set through the API may hold ESC sequences) is written as
/// `\u{1B}`-style text, never sent raw.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> [String] {
        let rows = rows.map { $0.map(terminalSafe) }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return [line(header)] + rows.map(line)
    }

    /// `text` with every control character (C0, DEL, C1) written out as `\u{…}`.
    static func terminalSafe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ s: Unicode.Scalar) -> Bool { s.value < 0x20 || (0x7F...0x9F).contains(s.value) }
}
