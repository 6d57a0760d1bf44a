"""Static Korean reference data for the synthetic producer: names, provinces, merchants, symbols.

Weights are rough public shares (statistics Korea, KRX), good enough to look believable.
"""

from __future__ import annotations

from dam_pipelines.lib.registry import SIDO_CODES

# fmt: off

# Family names with approximate population shares (percent).
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("김", 21.5), ("이", 14.7), ("박", 8.4), ("최", 4.7), ("정", 4.3), ("강", 2.4), ("조", 2.1),
    ("윤", 2.1), ("장", 2.0), ("임", 1.7), ("한", 1.5), ("오", 1.5), ("서", 1.5), ("신", 1.5),
    ("권", 1.4), ("황", 1.4), ("안", 1.4), ("송", 1.3), ("류", 1.2), ("전", 1.1), ("홍", 1.1),
    ("고", 0.9), ("문", 0.9), ("양", 0.9), ("손", 0.9), ("배", 0.8), ("백", 0.8), ("허", 0.6),
    ("유", 0.6), ("남", 0.5), ("심", 0.5), ("노", 0.4), ("하", 0.4), ("곽", 0.4), ("성", 0.4),
    ("차", 0.4), ("주", 0.4), ("우", 0.4), ("구", 0.4), ("민", 0.3), ("진", 0.3), ("나", 0.3),
    ("지", 0.3), ("엄", 0.3), ("채", 0.3), ("원", 0.3), ("천", 0.2), ("방", 0.2), ("공", 0.2),
    ("현", 0.2), ("함", 0.2), ("변", 0.2), ("염", 0.2), ("여", 0.2), ("추", 0.1), ("도", 0.1),
    ("소", 0.1), ("석", 0.1), ("선", 0.1), ("설", 0.1), ("마", 0.1), ("길", 0.1), ("연", 0.1),
    ("위", 0.1), ("표", 0.1), ("명", 0.1), ("기", 0.1), ("반", 0.1), ("왕", 0.1), ("금", 0.1),
    ("남궁", 0.05), ("제갈", 0.03), ("황보", 0.03), ("선우", 0.03), ("독고", 0.01),
)

# First syllables of given names (gender neutral) and gendered second syllables.
GIVEN_FIRST = (
    "민", "서", "지", "준", "현", "도", "하", "예", "시", "수", "주", "유", "승", "우", "성",
    "재", "은", "채", "윤", "다", "태", "동", "상", "영", "정", "혜", "경", "진", "미", "소",
    "가", "나", "아", "연", "세", "건", "한", "규", "선", "명", "인", "기", "종", "용", "광",
)
GIVEN_SECOND_M = (
    "준", "호", "훈", "석", "철", "혁", "우", "민", "현", "수", "진", "빈", "원", "재", "성",
    "환", "범", "규", "윤", "찬", "욱", "기", "식", "근", "영", "태", "한", "결", "율", "건",
)
GIVEN_SECOND_F = (
    "희", "숙", "영", "은", "아", "연", "지", "서", "윤", "경", "미", "진", "린", "원", "현",
    "정", "자", "순", "옥", "주", "나", "하", "빈", "율", "온", "솔", "리", "유", "선", "민",
)
#: Hangul syllables that exist in CP949 (UHC extension) but not in EUC-KR / KS X 1001.
#: A few names carry one so that strict CP949 decoding is exercised.
CP949_ONLY_SYLLABLES = ("똠", "뷁", "햏", "쌰", "믜", "꿻", "잌", "샾", "욯", "뭥")

#: Population share per province code (percent, 2024 resident registration statistics).
SIDO_WEIGHTS: dict[str, float] = {
    "11": 18.1, "26": 6.4, "27": 4.6, "28": 5.9, "29": 2.7, "30": 2.8, "31": 2.1, "36": 0.8,
    "41": 26.7, "43": 3.1, "44": 4.1, "46": 3.5, "47": 5.0, "48": 6.3, "50": 1.3, "51": 2.9,
    "52": 3.4,
}
assert tuple(SIDO_WEIGHTS) == SIDO_CODES

#: Neighbourhoods per province, used as merchant branch names.
SIDO_PLACES: dict[str, tuple[str, ...]] = {
    "11": ("강남", "역삼", "홍대", "잠실", "여의도", "종로", "명동", "신촌", "건대", "목동", "노원", "마포", "성수", "신림"),
    "26": ("해운대", "서면", "남포", "동래", "광안리", "사상", "연산"),
    "27": ("동성로", "수성", "범어", "칠곡", "반월당"),
    "28": ("부평", "송도", "구월", "청라", "주안", "계양"),
    "29": ("충장로", "상무", "첨단", "수완"),
    "30": ("둔산", "유성", "은행동", "관저"),
    "31": ("삼산", "성남동", "무거"),
    "36": ("나성", "조치원", "도담"),
    "41": ("수원", "분당", "일산", "판교", "안양", "부천", "용인", "평택", "의정부", "광교", "동탄", "안산"),
    "43": ("청주", "충주", "제천"),
    "44": ("천안", "아산", "서산", "당진"),
    "46": ("여수", "순천", "목포", "광양"),
    "47": ("포항", "구미", "경주", "안동"),
    "48": ("창원", "김해", "진주", "양산", "통영"),
    "50": ("제주시청", "서귀포", "노형", "애월"),
    "51": ("춘천", "원주", "강릉", "속초"),
    "52": ("전주", "익산", "군산"),
}
assert tuple(SIDO_PLACES) == SIDO_CODES

#: Brands per merchant category; ``None`` means an online merchant without branches.
MERCHANT_BRANDS: dict[str, tuple[str, ...]] = {
    "GROCERY": ("이마트24", "GS25", "CU", "세븐일레븐", "홈플러스", "롯데마트", "하나로마트", "노브랜드", "이마트", "동네마트"),
    "RESTAURANT": ("김밥천국", "본죽", "교촌치킨", "BBQ", "놀부부대찌개", "한솥도시락", "명동칼국수", "백반집", "맘스터치", "똠양꿍하우스", "뷁스버거"),
    "CAFE": ("스타벅스", "투썸플레이스", "이디야커피", "메가MGC커피", "빽다방", "커피빈", "할리스", "컴포즈커피", "파리바게뜨"),
    "FUEL": ("SK에너지", "GS칼텍스", "S-OIL", "HD현대오일뱅크", "알뜰주유소"),
    "TRANSPORT": ("티머니", "카카오T", "코레일", "SRT", "주차장", "고속버스터미널"),
    "ONLINE_SHOPPING": ("쿠팡", "11번가", "G마켓", "옥션", "SSG닷컴", "무신사", "컬리", "오늘의집", "배달의민족", "요기요"),
    "DEPARTMENT_STORE": ("롯데백화점", "신세계백화점", "현대백화점", "갤러리아백화점", "AK플라자"),
    "EDUCATION": ("해커스어학원", "YBM어학원", "대성학원", "눈높이", "구몬학습", "수학학원", "피아노학원", "태권도장"),
    "MEDICAL": ("연세내과의원", "서울치과", "온누리약국", "하늘한의원", "밝은안과", "우리소아과", "튼튼정형외과"),
    "TRAVEL": ("대한항공", "아시아나항공", "제주항공", "하나투어", "모두투어", "야놀자", "여기어때", "롯데호텔", "신라스테이"),
    "ENTERTAINMENT": ("CGV", "롯데시네마", "메가박스", "코인노래방", "PC방", "볼링장", "에버랜드", "롯데월드"),
    "UTILITIES": ("한국전력공사", "도시가스", "KT", "SK텔레콤", "LG유플러스", "아파트관리비", "상수도사업본부"),
}
ONLINE_BRANDS = frozenset(("쿠팡", "11번가", "G마켓", "옥션", "SSG닷컴", "무신사", "컬리", "오늘의집", "배달의민족", "요기요",
                           "카카오T", "야놀자", "여기어때", "KT", "SK텔레콤", "LG유플러스", "한국전력공사"))

#: Global merchants (registered through a Seoul acquirer) used for overseas transactions.
OVERSEAS_MERCHANTS: tuple[tuple[str, str], ...] = (
    ("AMAZON.COM", "ONLINE_SHOPPING"), ("ALIEXPRESS", "ONLINE_SHOPPING"), ("EBAY", "ONLINE_SHOPPING"),
    ("APPLE.COM/BILL", "ENTERTAINMENT"), ("NETFLIX.COM", "ENTERTAINMENT"), ("STEAM GAMES", "ENTERTAINMENT"),
    ("BOOKING.COM", "TRAVEL"), ("AGODA", "TRAVEL"), ("EXPEDIA", "TRAVEL"), ("JAL TOKYO", "TRAVEL"),
    ("LAWSON TOKYO", "GROCERY"), ("FAMILYMART OSAKA", "GROCERY"), ("ICHIRAN FUKUOKA", "RESTAURANT"),
    ("STARBUCKS NEW YORK", "CAFE"), ("DON QUIJOTE SHIBUYA", "DEPARTMENT_STORE"), ("GRAB SINGAPORE", "TRANSPORT"),
)

#: Share of transactions per category (percent) for a 30-49 year-old; tilted per age band.
CATEGORY_WEIGHTS: dict[str, float] = {
    "GROCERY": 17, "RESTAURANT": 20, "CAFE": 12, "FUEL": 6, "TRANSPORT": 10, "ONLINE_SHOPPING": 15,
    "DEPARTMENT_STORE": 3, "EDUCATION": 2.5, "MEDICAL": 5, "TRAVEL": 1.5, "ENTERTAINMENT": 4,
    "UTILITIES": 4,
}
#: Per age band (<30, 30-49, 50-64, 65+) multipliers on CATEGORY_WEIGHTS.
CATEGORY_AGE_TILT: dict[str, tuple[float, float, float, float]] = {
    "CAFE": (1.6, 1.0, 0.7, 0.4), "ONLINE_SHOPPING": (1.4, 1.0, 0.7, 0.4),
    "MEDICAL": (0.5, 1.0, 1.6, 2.6), "EDUCATION": (0.6, 1.8, 0.6, 0.1),
    "ENTERTAINMENT": (1.8, 1.0, 0.6, 0.4), "FUEL": (0.5, 1.1, 1.2, 0.8),
    "GROCERY": (0.7, 1.0, 1.2, 1.5), "DEPARTMENT_STORE": (0.6, 1.0, 1.3, 1.1),
}
#: Purchase amount per category: (median KRW, log-sigma, rounding unit).
CATEGORY_AMOUNTS: dict[str, tuple[float, float, int]] = {
    "GROCERY": (14_000, 0.9, 10), "RESTAURANT": (13_000, 0.7, 100), "CAFE": (5_500, 0.5, 100),
    "FUEL": (60_000, 0.5, 10), "TRANSPORT": (3_500, 1.0, 10), "ONLINE_SHOPPING": (32_000, 1.0, 10),
    "DEPARTMENT_STORE": (110_000, 1.0, 100), "EDUCATION": (220_000, 0.6, 1000),
    "MEDICAL": (18_000, 1.1, 100), "TRAVEL": (280_000, 1.0, 100), "ENTERTAINMENT": (18_000, 0.8, 100),
    "UTILITIES": (75_000, 0.7, 10),
}
#: Share of ONLINE channel per category.
ONLINE_SHARE: dict[str, float] = {
    "ONLINE_SHOPPING": 1.0, "TRAVEL": 0.6, "UTILITIES": 0.7, "EDUCATION": 0.3, "ENTERTAINMENT": 0.3,
    "TRANSPORT": 0.3, "RESTAURANT": 0.2,
}
#: Issuer BINs of the group's card company (masked PANs keep the first six digits).
CARD_BINS = ("536148", "944116", "465887", "625804", "942150", "518831")

#: (symbol, market, reference price in KRW, daily volatility, popularity weight)
SYMBOLS: tuple[tuple[str, str, float, float, float], ...] = (
    ("005930", "KOSPI", 71_000, 0.018, 30), ("000660", "KOSPI", 182_000, 0.025, 10),
    ("373220", "KOSPI", 375_000, 0.025, 4), ("207940", "KOSPI", 790_000, 0.02, 2),
    ("005380", "KOSPI", 245_000, 0.018, 5), ("000270", "KOSPI", 98_000, 0.018, 4),
    ("068270", "KOSPI", 185_000, 0.022, 4), ("035420", "KOSPI", 190_000, 0.022, 5),
    ("005490", "KOSPI", 380_000, 0.02, 3), ("051910", "KOSPI", 360_000, 0.024, 3),
    ("035720", "KOSPI", 45_000, 0.025, 6), ("105560", "KOSPI", 78_000, 0.015, 3),
    ("055550", "KOSPI", 46_000, 0.015, 3), ("012330", "KOSPI", 235_000, 0.017, 2),
    ("028260", "KOSPI", 140_000, 0.017, 2), ("066570", "KOSPI", 98_000, 0.02, 2),
    ("003550", "KOSPI", 82_000, 0.017, 1), ("096770", "KOSPI", 115_000, 0.022, 1),
    ("015760", "KOSPI", 21_500, 0.016, 2), ("032830", "KOSPI", 76_000, 0.016, 1),
    ("086790", "KOSPI", 58_000, 0.015, 2), ("017670", "KOSPI", 52_000, 0.01, 2),
    ("030200", "KOSPI", 38_000, 0.01, 1), ("033780", "KOSPI", 92_000, 0.01, 1),
    ("011200", "KOSPI", 18_500, 0.025, 2), ("003670", "KOSPI", 260_000, 0.03, 1),
    ("247540", "KOSDAQ", 210_000, 0.035, 3), ("086520", "KOSDAQ", 95_000, 0.04, 3),
    ("196170", "KOSDAQ", 330_000, 0.035, 2), ("028300", "KOSDAQ", 72_000, 0.04, 2),
    ("293490", "KOSDAQ", 17_000, 0.03, 1), ("263750", "KOSDAQ", 38_000, 0.03, 1),
    ("035900", "KOSDAQ", 62_000, 0.03, 1), ("041510", "KOSDAQ", 82_000, 0.03, 1),
    ("058470", "KOSDAQ", 190_000, 0.028, 1), ("145020", "KOSDAQ", 270_000, 0.025, 1),
    ("AAPL", "NASDAQ", 310_000, 0.016, 6), ("MSFT", "NASDAQ", 580_000, 0.015, 4),
    ("NVDA", "NASDAQ", 185_000, 0.03, 9), ("AMZN", "NASDAQ", 300_000, 0.02, 3),
    ("GOOGL", "NASDAQ", 240_000, 0.018, 3), ("META", "NASDAQ", 820_000, 0.022, 2),
    ("TSLA", "NASDAQ", 480_000, 0.035, 8), ("QQQ", "NASDAQ", 690_000, 0.012, 4),
    ("AMD", "NASDAQ", 215_000, 0.03, 2), ("PLTR", "NASDAQ", 160_000, 0.04, 3),
    ("JPM", "NYSE", 330_000, 0.014, 1), ("KO", "NYSE", 96_000, 0.008, 2),
    ("V", "NYSE", 450_000, 0.012, 1), ("DIS", "NYSE", 155_000, 0.016, 1),
    ("XOM", "NYSE", 160_000, 0.014, 1), ("O", "NYSE", 80_000, 0.01, 2),
    ("IBM", "NYSE", 330_000, 0.014, 1), ("BRK.B", "NYSE", 650_000, 0.01, 1),
)
# fmt: on
