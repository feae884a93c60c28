"""Everyday products and services as people type them, decided as the law says (issue 11, point 4)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.eligibility import Assessor, Profile
from bot.faq import FaqIndex
from bot.knowledge import Knowledge
from bot.text import fold
from tests.conftest import KNOWLEDGE

DAY = dt.date(2026, 6, 1)

# How owners describe what they make: whole phrases, not lexicon terms; every second one without diacritics.
PRODUCTS: list[tuple[str, str]] = [
    # pottery and ceramics
    ("nhà em làm gốm ở Bát Tràng", "handicrafts"),
    ("xuong gom nho cua gia dinh", "handicrafts"),
    ("sản xuất gốm sứ gia dụng", "handicrafts"),
    ("lam chum vai sanh de dung nuoc", "handicrafts"),
    ("nung đồ gốm bằng lò ga", "handicrafts"),
    ("nan tuong gom dat nung ban cho khach", "handicrafts"),
    ("cơ sở vẽ gốm men lam", "handicrafts"),
    ("lam chau canh bang gom", "handicrafts"),
    ("hộ làm ấm chén sứ", "handicrafts"),
    ("nghe gom truyen thong Phu Lang", "handicrafts"),
    # spices: pepper, cinnamon, star anise, chilli
    ("sấy tiêu rồi đóng gói bán đi các tỉnh", "agro_food_processing"),
    ("dong goi tieu hat xuat khau", "agro_food_processing"),
    ("sơ chế và đóng gói hồ tiêu", "agro_food_processing"),
    ("say que va hoa hoi o Yen Bai", "agro_food_processing"),
    ("cơ sở sấy hoa hồi Lạng Sơn", "agro_food_processing"),
    ("xay ot kho thanh ot bot", "agro_food_processing"),
    ("làm bột quế đóng túi", "agro_food_processing"),
    ("say thao qua tren Sa Pa", "agro_food_processing"),
    ("làm muối tiêu chanh đóng hũ", "agro_food_processing"),
    ("phan loai va dong goi gia vi kho", "agro_food_processing"),
    # regional sweets and specialities
    ("gia đình làm bánh phu thê Đình Bảng", "agro_food_processing"),
    ("lam keo doi lac vung", "agro_food_processing"),
    ("làm bánh tráng dừa nướng", "agro_food_processing"),
    ("lam banh dau xanh Hai Duong", "agro_food_processing"),
    ("làm nem Lai Vung bán đi chợ", "agro_food_processing"),
    ("nau ruou Bau Da gia truyen", "agro_food_processing"),
    ("ủ rượu nếp cẩm", "agro_food_processing"),
    ("lam mam ca linh mua nuoc noi", "agro_food_processing"),
    ("làm chả ram tôm đất", "agro_food_processing"),
    ("lam banh it la gai Binh Dinh", "agro_food_processing"),
    ("làm tré Huế", "agro_food_processing"),
    ("san xuat keo siu chau", "agro_food_processing"),
    ("cơ sở làm bánh cuốn Thanh Trì", "agro_food_processing"),
    ("lam gio xao ban dip Tet", "agro_food_processing"),
    ("làm mứt me xuất khẩu", "agro_food_processing"),
    ("lam banh pia sau rieng Soc Trang", "agro_food_processing"),
    ("sản xuất nước mắm Nam Ô", "agro_food_processing"),
    ("lam tuong Nam Dan", "agro_food_processing"),
    ("làm bánh đa kê Hà Nội", "agro_food_processing"),
    ("lam banh chung Tranh Khuc", "agro_food_processing"),
    # weaving, embroidery, hats, mats
    ("dệt vải thổ cẩm bằng khung cửi", "handicrafts"),
    ("theu tranh chu thap thu cong", "handicrafts"),
    ("chằm nón lá bài thơ Huế", "handicrafts"),
    ("det chieu coi Nga Son", "handicrafts"),
    ("dệt lụa Vạn Phúc", "handicrafts"),
    ("dan non la Chuong", "handicrafts"),
    # lacquer, wood, stone, metal
    ("làm tranh sơn mài Tương Bình Hiệp", "handicrafts"),
    ("cham khac go dong ky", "handicrafts"),
    ("tạc tượng đá Non Nước", "handicrafts"),
    ("xuong duc dong o Y Yen", "handicrafts"),
    ("thợ chạm bạc làng Đồng Xâm", "handicrafts"),
    ("lam do bac Chau Khe", "handicrafts"),
    ("rèn dao Đa Sỹ", "machinery_parts_repair"),
    ("lo ren Phuc Sen", "machinery_parts_repair"),
    # bamboo, rattan, incense, paper
    ("đan giỏ mây xuất khẩu", "handicrafts"),
    ("lam hang may tre dan Phu Vinh", "handicrafts"),
    ("se nhang trầm Quảng Phú Cầu", "handicrafts"),
    ("lam huong vong", "handicrafts"),
    ("làm giấy dó Dương Ổ", "handicrafts"),
    ("lam quat giay Chang Son", "handicrafts"),
    ("làm tranh Đông Hồ", "handicrafts"),
    ("lam den long Hoi An", "handicrafts"),
    # food processing basics
    ("làm đậu phụ bán buổi sáng", "agro_food_processing"),
    ("lam bun tuoi giao cho quan", "agro_food_processing"),
    ("xay xát lúa gạo thuê cho bà con", "agro_food_processing"),
    ("say cafe nhan", "agro_food_processing"),
    ("làm cà phê bột đóng gói", "agro_food_processing"),
    ("che bien tra shan tuyet", "agro_food_processing"),
    ("làm mật ong đóng chai", "agro_food_processing"),
    ("lam ca kho mot nang", "agro_food_processing"),
    ("làm nem chua Thanh Hóa", "agro_food_processing"),
    ("lam nuoc mam ca com", "agro_food_processing"),
    # garments, furniture, building materials, machinery
    ("may quần áo gia công cho công ty", "consumer_export_goods"),
    ("dong ban ghe go xoan", "consumer_export_goods"),
    ("sản xuất gạch không nung bằng máy ép", "building_materials"),
    ("lam ngoi xi mang", "building_materials"),
    ("hàn cổng sắt, làm hàng rào", "machinery_parts_repair"),
    ("sua chua may cay may xoi", "machinery_parts_repair"),
    ("sản xuất phân hữu cơ từ phân bò", "agri_chemicals"),
    ("lam vien nen mun cua", "green_industry"),
    # abbreviations people type
    ("cs sx hàng mtđ xuất khẩu", "handicrafts"),
    ("hkd cf rang xay dong goi", "agro_food_processing"),
]

# Services, tourism, trade, transport and farming without processing: never eligible.
SERVICES: list[str] = [
    # growing is farming, whoever does it (a new-user review: pepper and mushroom growers were not read)
    "nhà em trồng tiêu ở Gia Lai",
    "hkd trong nam",
    "nha minh chuyen trong nam rom",
    "homestay",
    "kinh doanh homestay ở Hội An",
    "nha nghi binh dan gan cho",
    "khách sạn mini 10 phòng",
    "lam du lich cong dong o ban",
    "du lịch sinh thái miệt vườn",
    "kinh doanh lưu trú du lịch",
    "resort nghi duong",
    "mở nhà hàng hải sản tươi sống",
    "quan an sang",
    "tiệm sửa điện thoại",
    "sua xe may, thay nhot",
    "sửa chữa tivi tủ lạnh",
    "cat toc nam",
    "mở tiệm bán tạp hóa đầu ngõ",
    "buon ban hoa qua",
    "chạy xe tải chở hàng thuê",
    "chay xe om cong nghe buoi toi",
    "trồng lúa và hoa màu",
    "nuoi ca ao tha ca tra",
]

# A service and a product in one text: the product counts only where the text says it is made there.
MIXED: list[tuple[str, str | None]] = [
    ("homestay bán kèm mật ong", None),
    ("nhà nghỉ ở làng gốm Bát Tràng", None),
    ("nha nghi gan lo gom", None),
    ("khách sạn có bán tranh sơn mài", None),
    ("quán cà phê bán thêm bánh pía", None),
    ("tạp hóa bán bánh kẹo, nước mắm", None),
    ("chạy xe tải chở gạch không nung", None),
    ("làm gốm, có thêm homestay", "handicrafts"),
    ("xưởng gốm kiêm homestay", "handicrafts"),
    ("homestay, nha co lam them mat ong", "agro_food_processing"),
    ("nhà nghỉ và sản xuất nước mắm", "agro_food_processing"),
    ("nuôi heo và làm giò chả", "agro_food_processing"),
    ("trồng tiêu, sấy tiêu và đóng gói bán", "agro_food_processing"),
    ("hkd trong nam va say nam huong", "agro_food_processing"),
    ("quán cà phê, sửa máy pha cà phê", None),
    ("cửa hàng bán máy xay xát", None),
    ("bán đồ gỗ, đóng bàn ghế theo đơn", "consumer_export_goods"),
    ("sua chua may nong nghiep, ban them phu tung", "machinery_parts_repair"),
]


@pytest.fixture(scope="module")
def terms(kb: Knowledge) -> set[str]:
    """Every folded lexicon term."""
    found = {fold(t) for s in kb.sectors.sectors for t in s.terms}
    return found | {fold(t) for g in kb.sectors.non_industrial for t in g.terms}


def _assess(assessor: Assessor, activity: str, **facts: object) -> tuple[bool | None, set[str], str | None]:
    a = assessor.assess(Profile(legal_form="household_business", activity=activity, **facts), DAY)  # type: ignore[arg-type]
    return a.eligible, {r.code for r in a.reasons}, a.sector.code if a.sector else None


def test_the_tables_are_large_half_without_diacritics_and_not_the_lexicon(terms: set[str]) -> None:
    texts = [t for t, _ in PRODUCTS]
    assert len(texts) >= 80 and len(SERVICES) >= 20
    assert sum(t.isascii() for t in texts) >= len(texts) // 2
    assert not [t for t in texts + SERVICES if fold(t) in terms and len(fold(t).split()) > 1 and t != "homestay"]


@pytest.mark.parametrize(("text", "sector"), PRODUCTS, ids=[t for t, _ in PRODUCTS])
def test_an_everyday_product_gets_its_sector(assessor: Assessor, text: str, sector: str) -> None:
    assert assessor.classifier.classify(text).code == sector


@pytest.mark.parametrize("text", SERVICES)
def test_a_service_is_never_eligible(assessor: Assessor, text: str) -> None:
    eligible, reasons, _ = _assess(assessor, text, province="Quảng Trị", commune="Vĩnh Thủy")
    assert eligible is False and "not_industrial_activity" in reasons


@pytest.mark.parametrize(("text", "sector"), MIXED, ids=[t for t, _ in MIXED])
def test_a_product_beside_a_service_counts_only_where_it_is_made(
    assessor: Assessor, text: str, sector: str | None
) -> None:
    eligible, reasons, found = _assess(assessor, text, province="Quảng Trị", commune="Vĩnh Thủy")
    if sector is None:
        assert eligible is False and "not_industrial_activity" in reasons and found is None
    else:
        assert eligible is True and found == sector


def test_check_says_a_homestay_is_not_eligible_and_why() -> None:
    profile = {"legal_form": "household_business", "activity": "homestay bán kèm mật ong", "province": "Quảng Trị"}
    result = CliRunner().invoke(
        main, ["check", "-", "--json", "--date", "2026-06-01", "--knowledge", str(KNOWLEDGE)], input=json.dumps(profile)
    )
    data = json.loads(result.stdout)
    assert data["eligible"] is False and data["sector"] is None
    assert data["reasons"][0]["code"] == "not_industrial_activity" and "homestay" in data["reasons"][0]["text"]


# Everyday phrases that fold like a product ('gom' = 'gốm', 'tra lai' = 'trà lài'): they name no activity.
FOLD_TRAPS: list[str] = [
    "thu gom rác thải",
    "kiểm tra đăng ký giúp tôi",
    "hồ sơ bị trả lại",
    "người dân đã nộp đơn",
    "lưu trữ hồ sơ ở xã",
    "đầu giờ sáng mai",
    "chuyển sang tiêu thụ trong nước",
    "tiêu đến đâu hay đến đó",
    "làm cơm cho thợ",
    "quê ông ở Nghệ An",
    "đại hội cổ đông",
    "sẽ hướng dẫn sau",
    "cái này khác đã nói",
    "tôi tưởng đã gửi",
    "phản đối quyết định",
    "đi ra trong đồng",
    "cho khách xem",
    "sắp cho ra mắt",
    "kiểm tra định kỳ",
    "giờ thu hoạch",
    "khai thác mô hình mới",
    "đoàn về tham quan học tập",
    "được hỗ trợ mấy lần trong năm",
    "trong nam nay xa co ho tro khong",
    "kho khan trong tieu thu san pham",
    "em trong nam nay muon xin them",
]


@pytest.mark.parametrize("text", FOLD_TRAPS)
def test_a_phrase_that_folds_like_a_product_names_no_activity(assessor: Assessor, text: str) -> None:
    assert assessor.classifier.classify(text).kind is None


@pytest.mark.parametrize(
    "question",
    [
        "homestay có được hỗ trợ khuyến công không",
        "nha nghi o lang gom co duoc khuyen cong ko",
        "khách sạn có được vay khuyến công không",
        "làm du lịch cộng đồng có được hỗ trợ không",
        "resort nghi duong co duoc kc khong",
    ],
)
def test_a_question_about_lodging_is_never_answered_yes(faq: FaqIndex, question: str) -> None:
    answer = faq.ask(question)
    assert answer.matched and answer.answer.startswith("Không.") and "Homestay" in answer.answer


@pytest.mark.parametrize("text", ["cty e lam go xuat khau", "xưởng gỗ của gia đình", "làm gỗ"])
def test_wood_work_typed_plainly_is_wood_processing(kb: Knowledge, text: str) -> None:
    """Was (second user review): 'làm gỗ xuất khẩu' typed without diacritics was no product at all."""
    found = Assessor(kb).classifier.classify(text)
    assert found.kind == "sector" and found.code == "agro_food_processing"
