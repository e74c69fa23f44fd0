// Package credential turns the text of a decoded code into a
// checkpoint.Credential: the Decision 1405 personal QR, the CCCD (chip
// citizen ID card) QR and the EU DCC "HC1:" health certificate (base45, zlib
// with a size cap, COSE_Sign1 verified against a trust list, CWT, DCC).
//
// Nothing in this package logs, and no error it returns carries a name,
// an ID number, a QID, a UCI or a birth date: errors name the field that was
// wrong, never its value.
package credential
