/// The pre-pass for input that holds non-ASCII characters, before the ASCII parse.
///
/// UTS #46 maps the ideographic and fullwidth full stops to `.`; we do the same for
/// U+3002, U+FF0E and U+FF61. We do not map the other fullwidth forms (U+FF01–U+FF5E)
/// to ASCII: `ｅｘａｍｐｌｅ.com` or `１２７.0.0.1` in a policy is almost always a paste
/// accident or a trick, so it is refused with a message asking for ASCII. Controls,
/// white space and format characters (U+200D ZERO WIDTH JOINER, U+202E RIGHT-TO-LEFT
/// OVERRIDE, U+FEFF …) are refused. What remains is lower-cased with
/// `String.lowercased()` and put in Unicode Normalization Form C, as IDNA2008 requires,
/// so `münchen` and `mu\u{308}nchen` give one A-label.
extension HostParser {
    static func prepareUnicode(_ input: String) throws(HostError) -> String {
        var mapped = String.UnicodeScalarView()
        for scalar in input.unicodeScalars {
            switch scalar.value {
            case 0x3002, 0xFF0E, 0xFF61:
                mapped.append(".")
                continue
            case 0xFF01...0xFF5E:
                throw .fullwidth(input, String(Character(scalar)))
            case 0x80...0x9F:
                throw .controlCharacter(input)
            default:
                break
            }
            if scalar.value >= 0x80 {
                let properties = scalar.properties
                if properties.isWhitespace { throw .whitespace(input) }
                switch properties.generalCategory {
                case .control: throw .controlCharacter(input)
                case .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
                     .spaceSeparator:
                    throw .invalidCharacter(input, String(Character(scalar)))
                case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                     .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber,
                     .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                     .initialPunctuation, .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol,
                     .modifierSymbol, .otherSymbol:
                    break
                @unknown default:
                    throw .invalidCharacter(input, String(Character(scalar)))
                }
            }
            mapped.append(scalar)
        }
        // Note to maintainers: `_nfcCodeUnits` is the standard library's own NFC
        // normaliser (public, underscored); the engine has no Foundation to ask instead.
        let lowered = String(mapped).lowercased()
        return String(decoding: lowered._nfcCodeUnits, as: UTF8.self)
    }

    /// Whether a non-ASCII code point may stand in a label (IDNA2008 keeps letters, marks
    /// and digits; symbols, punctuation and emoji are refused).
    static func isLabelScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
            return true
        case .letterNumber, .otherNumber, .connectorPunctuation, .dashPunctuation, .openPunctuation,
             .closePunctuation, .initialPunctuation, .finalPunctuation, .otherPunctuation, .mathSymbol,
             .currencySymbol, .modifierSymbol, .otherSymbol, .spaceSeparator, .lineSeparator,
             .paragraphSeparator, .control, .format, .surrogate, .privateUse, .unassigned:
            return false
        @unknown default:
            return false
        }
    }

    /// Whether a code point is a combining mark (which may not begin a label).
    static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber, .connectorPunctuation, .dashPunctuation,
             .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
             .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
             .spaceSeparator, .lineSeparator, .paragraphSeparator, .control, .format, .surrogate,
             .privateUse, .unassigned:
            return false
        @unknown default:
            return false
        }
    }
}
