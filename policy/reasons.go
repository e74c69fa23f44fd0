package policy

// vietnamese is every fixed reason the policy gives, in Vietnamese: the
// operator screen shows it first, the English beneath. reasons_test.go
// checks that every Reason constant of this package is here.
var vietnamese = map[string]string{
	ReasonInvalid:      "mã không hợp lệ",
	ReasonStatus:       "trạng thái theo dữ liệu",
	ReasonUnknown:      "không có trong dữ liệu: kiểm tra thủ công",
	ReasonExpired:      "trạng thái đã hết hạn: kiểm tra thủ công",
	ReasonIdentityOnly: "chỉ có thông tin danh tính: kiểm tra thủ công",
	ReasonStale:        "dữ liệu trạng thái đã cũ",
	ReasonCacheError:   "không đọc được dữ liệu trạng thái: kiểm tra thủ công",
	ReasonTyped:        "mã nhập tay",
	ReasonNoCache:      "không có dữ liệu trạng thái: kiểm tra thủ công",

	ReasonNotListed: "không có trong danh sách của đơn vị",
	ReasonListStale: "danh sách của đơn vị chưa có hoặc đã hết hạn",
	ReasonListError: "không đọc được danh sách của đơn vị: kiểm tra thủ công",

	ReasonSamePerson:      "cùng một người: số giấy tờ và ngày sinh khớp",
	ReasonDifferentPerson: "khác người: số giấy tờ hoặc ngày sinh không khớp",
	ReasonNotComparable:   "không so sánh được danh tính: kiểm tra thủ công",

	ReasonHC1BadSignature:     "chữ ký HC1 không hợp lệ",
	ReasonHC1UnknownSigner:    "không rõ đơn vị ký HC1",
	ReasonHC1SignerNotAllowed: "đơn vị ký HC1 không được phép cấp loại chứng nhận này",
	ReasonHC1Unsigned:         "HC1 không có chữ ký",
	ReasonHC1Revoked:          "chứng nhận HC1 đã bị thu hồi",
	ReasonHC1RevocationError:  "không đọc được danh sách thu hồi: kiểm tra thủ công",
	ReasonHC1Expired:          "chứng nhận HC1 đã hết hạn",
	ReasonHC1NotYetValid:      "chứng nhận HC1 chưa có hiệu lực",
	ReasonHC1NoRule:           "HC1 không đáp ứng quy định nào",
	ReasonHC1ManyEntries:      "chứng nhận HC1 có nhiều hơn một mục",
}

// Vietnamese returns the Vietnamese of a reason the judge gives: the fixed
// reasons, and those of its HC1 rule profile (their name_vi, else words
// made from the rule). ok is false for a reason it does not know.
func (j *Judge) Vietnamese(reason string) (vi string, ok bool) {
	if vi, ok := vietnamese[reason]; ok {
		return vi, true
	}
	return j.Rules.HC1.vietnamese(reason)
}
