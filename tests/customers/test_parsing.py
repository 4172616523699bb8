"""The pure parsing layer: encodings, delimiters, headers, dates, amounts (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from customers.services import parsing as p


def write(tmp_path: Path, content: bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


HEADER_CN = "客户编号,订单号,订单日期,金额,成本,区域\n"
ROW_CN = "C1,O1,2024-03-01,100.00,60.00,华东\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ((HEADER_CN + ROW_CN).encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + (HEADER_CN + ROW_CN).encode("utf-8"), "utf-8-sig"),
        ((HEADER_CN + ROW_CN).encode("gbk"), "gb18030"),
        ((HEADER_CN + "C1,O1,2024-03-01,100.00,60.00,𠀀区\n").encode("gb18030"), "gb18030"),
        ((HEADER_CN + ROW_CN).encode("utf-16"), "utf-16"),
        (b"customer_id,order_date,revenue\nC1,2024-01-01,1\n", "utf-8"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "gb18030-4byte", "utf16", "ascii"],
)
def test_encoding_is_detected(tmp_path: Path, data: bytes, expected: str) -> None:
    path = write(tmp_path, data)
    assert p.encoding_detect(path=path) == expected
    source = p.source_open(path=path)
    assert source.header[0] == "客户编号" if "客户" in data.decode(expected) else True
    rows = list(source.rows())
    assert len(rows) == 1


def test_a_gbk_byte_far_into_a_utf8_looking_file_is_found(tmp_path: Path) -> None:
    body = "customer_id,order_date,revenue,region\n" + "C1,2024-01-01,1,North\n" * 20000
    data = body.encode("utf-8") + "C2,2024-01-02,2,华东\n".encode("gbk")
    assert p.encoding_detect(path=write(tmp_path, data)) == "gb18030"


def test_undecodable_bytes_are_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(p.ImportRefused) as exc:
        p.encoding_detect(path=write(tmp_path, b"a,b\n\xff\xff\xff\x80\x80\n"))
    assert str(exc.value) == str(p.ERR_ENCODING).format(line=2, snippet="?????")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer_id,order_date,revenue\nC1,2024-01-01,\"1,234.50\"\n", ","),
        ("customer_id;order_date;revenue\nC1;2024-01-01;1234,50\nC2;2024-01-02;3,10\n", ";"),
        ("customer_id\torder_date\trevenue\nC1\t2024-01-01\t1 234,50\n", "\t"),
        ("customer_id|order_date|revenue\nC1|2024-01-01|12\n", "|"),
        ("  customer_id  date  dollar_value\r\n  00001 19970101   11.77\r\n", p.WHITESPACE),
        ("客户编号，订单日期，金额\nC1，2024-01-01，120.50\n", "\uff0c"),
        # A full-width comma inside a comma file's cells does not win.
        ("客户编号,备注,金额\nC1,\"好，很好\",120.50\n", ","),
    ],
    ids=["comma", "semicolon", "tab", "pipe", "whitespace", "full-width comma", "full-width comma in a cell"],
)
def test_delimiter_is_sniffed(text: str, expected: str) -> None:
    assert p.delimiter_sniff(lines=text.splitlines()) == expected


def test_whitespace_rows_with_crlf_are_split_on_runs_of_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, b"  customer_id  date  dollar_value\r\n  00001 19970101   11.77\r\n")
    source = p.source_open(path=path)
    assert source.header == ["customer_id", "date", "dollar_value"]
    assert list(source.rows()) == [(2, ["00001", "19970101", "11.77"])]


@pytest.mark.parametrize(
    ("header", "field_names"),
    [
        (["Customer ID", "Order Date", "REVENUE"], {"customer_id", "order_date", "revenue"}),
        ([" customer_id ", "order-date", "Sales Amount", "COGS"], {"customer_id", "order_date", "revenue", "cost"}),
        (["客户编号", "订单号", "订单日期", "金额", "成本", "区域", "产品线", "事业部", "渠道"],
         {"customer_id", "order_id", "order_date", "revenue", "cost", "region", "product_line", "business_unit",
          "acquisition_channel"}),
        (["客户ID", "日期", "销售额", "地区"], {"customer_id", "order_date", "revenue", "region"}),
        (["客户ID", "日期", "收入"], {"customer_id", "order_date", "revenue"}),
        (["ＣＵＳＴＯＭＥＲ　ＩＤ", "Date", "Amount"], {"customer_id", "order_date", "revenue"}),
    ],
)
def test_headers_are_recognised_in_english_and_chinese(header: list[str], field_names: set[str]) -> None:
    plan = p.columns_resolve(kind="transactions", header=header)
    assert set(plan.indexes) == field_names


def test_cost_headers_in_chinese() -> None:
    plan = p.columns_resolve(kind="costs", header=["月份", "类型", "金额", "维度", "维度值"])
    assert set(plan.indexes) == {"month", "kind", "amount", "segment_dimension", "segment_value"}


def test_unknown_columns_are_ignored_and_reported() -> None:
    plan = p.columns_resolve(kind="transactions", header=["customer_id", "date", "revenue", "number_of_cds"])
    assert plan.unknown == ["number_of_cds"]


def test_a_missing_required_column_lists_what_was_found_and_what_is_needed() -> None:
    with pytest.raises(p.ImportRefused) as exc:
        p.columns_resolve(kind="transactions", header=["customer_id", "date", "dollar_value"])
    message = str(exc.value)
    assert message.startswith("Required column(s) missing: revenue")
    assert '"customer_id", "date", "dollar_value"' in message
    assert "Needed: customer_id (customer id), order_date (order date), revenue (revenue)" in message


def test_a_hand_mapping_fixes_an_unrecognised_column() -> None:
    plan = p.columns_resolve(kind="transactions", header=["customer_id", "date", "dollar_value"],
                             mapping=p.mapping_parse(items=["revenue=dollar_value"]))
    assert plan.indexes == {"customer_id": 0, "order_date": 1, "revenue": 2}
    plan = p.columns_resolve(kind="transactions", header=["a", "b", "c"],
                             mapping={"customer_id": "#1", "order_date": "#2", "revenue": "#3"})
    assert plan.indexes == {"customer_id": 0, "order_date": 1, "revenue": 2}


def test_a_mapping_to_a_missing_column_is_refused() -> None:
    with pytest.raises(p.ImportRefused, match="no such column"):
        p.columns_resolve(kind="transactions", header=["customer_id", "date"], mapping={"revenue": "dollars"})
    with pytest.raises(p.ImportRefused, match="FIELD=COLUMN"):
        p.mapping_parse(items="revenue")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # Taobao/Tmall order export
        (["买家会员名", "订单编号", "付款时间", "买家实际支付金额", "订单来源"],
         {"customer_id": "买家会员名", "order_id": "订单编号", "order_date": "付款时间", "revenue": "买家实际支付金额",
          "acquisition_channel": "订单来源"}),
        # Kingdee/Yonyou sales invoice list
        (["往来单位编码", "往来单位名称", "单据编号", "单据日期", "价税合计", "部门"],
         {"customer_id": "往来单位编码", "name": "往来单位名称", "order_id": "单据编号", "order_date": "单据日期",
          "revenue": "价税合计", "business_unit": "部门"}),
        # SAP billing documents
        (["Sold-to party", "Billing Document", "Billing Date", "Net Value"],
         {"customer_id": "Sold-to party", "order_id": "Billing Document", "order_date": "Billing Date",
          "revenue": "Net Value"}),
        # A currency unit after the name
        (["客户编号", "订单日期", "金额（元）", "成本(元)"],
         {"customer_id": "客户编号", "order_date": "订单日期", "revenue": "金额（元）", "cost": "成本(元)"}),
        (["Customer", "Date", "Revenue (USD)", "Cost [USD]"],
         {"customer_id": "Customer", "order_date": "Date", "revenue": "Revenue (USD)", "cost": "Cost [USD]"}),
        # A field's own name wins over another system's: Email stays unused beside Customer ID.
        (["Customer ID", "Email", "Created at", "Order Date", "Total"],
         {"customer_id": "Customer ID", "order_date": "Order Date", "revenue": "Total"}),
        (["Email", "Created at", "Total"], {"customer_id": "Email", "order_date": "Created at", "revenue": "Total"}),
    ],
    ids=["taobao", "kingdee", "sap", "yuan", "usd", "own-name-first", "email-alone"],
)
def test_the_headers_of_back_office_and_shop_exports(header: list[str], expected: dict[str, str]) -> None:
    plan = p.columns_resolve(kind="transactions", header=header)
    assert {field: header[i] for field, i in plan.indexes.items()} == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("金额(万元)", (10_000, "万元")), ("营销费用（单位：万元）", (10_000, "万元")), ("销售额/千元", (1_000, "千元")),
        ("收入(人民币百万元)", (10**6, "人民币百万元")), ("金额【亿元】", (10**8, "亿元")), ("金额(万元人民币)", (10_000, "万元人民币")),
        ("Revenue ($000)", (1_000, "$000")), ("Revenue (USD '000)", (1_000, "USD '000")),
        ("Sales (in thousands)", (1_000, "in thousands")), ("Spend (USD k)", (1_000, "USD k")),
        ("Cost (thousands of USD)", (1_000, "thousands of USD")), ("Revenue (EUR millions)", (10**6, "EUR millions")),
        ("Revenue (m)", (10**6, "m")), ("Net value (MM)", (10**6, "MM")),
        ("金额(元)", None), ("Revenue (USD)", None), ("重量(千克)", None), ("Revenue", None), ("件数(万件)", None),
        ("Distance (km)", None), ("Month", None),
    ],
)
def test_the_scale_in_an_amount_columns_name(name: str, expected: tuple[int, str] | None) -> None:
    assert p.amount_scale(name) == expected


def test_an_amount_column_in_a_scale_is_taken_and_multiplied() -> None:
    plan = p.columns_resolve(kind="transactions", header=["客户编号", "订单日期", "金额(万元)", "成本(元)"])
    assert plan.column_label("revenue") == "金额(万元)" and plan.column_label("cost") == "成本(元)"
    assert plan.scales == {"revenue": (10_000, "万元")}
    costs = p.columns_resolve(kind="costs", header=["月份", "费用类型", "费用（单位：万元）"])
    assert costs.scales == {"amount": (10_000, "万元")}
    # Mapped by hand, the column's scale still counts; a scale on a column that is not an amount does not.
    mapped = p.columns_resolve(kind="transactions", header=["Customer", "Date", "Net (USD thousands)", "Units (k)"],
                               mapping={"revenue": "Net (USD thousands)"})
    assert mapped.scales == {"revenue": (1_000, "USD thousands")}
    # Two amount columns known by one name are still refused as ambiguous.
    with pytest.raises(p.ImportRefused, match="金额"):
        p.columns_resolve(kind="transactions", header=["客户编号", "订单日期", "金额(万元)", "金额(元)"])


@pytest.mark.parametrize(
    ("raw", "scale", "expected"),
    [
        ("1.5", 10_000, "15000.00"), ("1.23456", 10_000, "12345.60"), ("(2.5)", 1_000, "-2500.00"),
        ("1,234.5", 1_000, "1234500.00"), ("-0.001", 1_000, "-1.00"), ("12", 1, "12"),
        ("1.5万", 1, "15000.00"), ("2亿", 1, "200000000.00"), ("¥3.2万", 1, "32000.00"), ("3.2万元", 1, "32000.00"),
        ("-1.2万", 1, "-12000.00"),
    ],
)
def test_amounts_are_multiplied_by_their_scale(raw: str, scale: int, expected: str) -> None:
    assert p.amount_parse(raw, scale) == expected


@pytest.mark.parametrize(("raw", "scale"), [("万", 1), ("1.5万万", 1), ("100000000", 10**8), ("1亿", 10**8)])
def test_a_scaled_amount_out_of_range_or_malformed_is_refused(raw: str, scale: int) -> None:
    with pytest.raises(ValueError):
        p.amount_parse(raw, scale)


def test_other_systems_names_go_in_their_order_of_preference() -> None:
    # A Taobao export: the amount paid before the total, the order's creation before its payment.
    header = ["订单编号", "买家会员名", "总金额", "买家实际支付金额", "订单付款时间", "订单创建时间"]
    plan = p.columns_resolve(kind="transactions", header=header)
    assert {field: header[i] for field, i in plan.indexes.items()} == {
        "order_id": "订单编号", "customer_id": "买家会员名", "revenue": "买家实际支付金额", "order_date": "订单创建时间"}
    assert plan.unknown == ["总金额", "订单付款时间"]
    # A hand mapping still chooses.
    mapped = p.columns_resolve(kind="transactions", header=header, mapping={"order_date": "订单付款时间"})
    assert header[mapped.indexes["order_date"]] == "订单付款时间"


def test_two_columns_of_one_other_systems_name_must_be_mapped_by_hand() -> None:
    with pytest.raises(p.ImportRefused, match="付款时间"):
        p.columns_resolve(kind="transactions", header=["客户编号", "付款时间", "付款 时间", "金额"])
    plan = p.columns_resolve(kind="transactions", header=["客户编号", "付款时间", "付款 时间", "金额"],
                             mapping={"order_date": "#3"})
    assert plan.indexes["order_date"] == 2 and "付款时间" in plan.unknown


def test_two_columns_for_one_field_must_be_mapped_by_hand() -> None:
    with pytest.raises(p.ImportRefused, match="both look like"):
        p.columns_resolve(kind="transactions", header=["customer_id", "date", "金额", "销售额"])
    plan = p.columns_resolve(kind="transactions", header=["customer_id", "date", "金额", "销售额"],
                             mapping={"revenue": "销售额"})
    assert plan.indexes["revenue"] == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-31", "2024-03-31"),
        ("2024/3/1", "2024-03-01"),
        ("2024-3-1", "2024-03-01"),
        ("20240331", "2024-03-31"),
        ("31.3.2024", "2024-03-31"),
        ("2024-03-31 13:45:00", "2024-03-31"),
        ("2024/3/31 0:00", "2024-03-31"),
        ("2024-03-31T08:00", "2024-03-31"),
        ("2024年3月31日", "2024-03-31"),
        # ISO 8601 timestamps of shops and APIs: the date as written, whatever the zone.
        ("2024-03-31T23:30:00Z", "2024-03-31"),
        ("2024-03-31T08:00:00.123+08:00", "2024-03-31"),
        ("2024-03-31 08:00:00 +0800", "2024-03-31"),
        ("2024/3/31 下午2:15:00", "2024-03-31"),
        ("2024-03-31 2:15 PM", "2024-03-31"),
        ("31.3.2024 11:59 p.m.", "2024-03-31"),
        # Month names: the name says which number is the day.
        ("31-Mar-2024", "2024-03-31"),
        ("31-MAR-24", "2024-03-31"),
        ("01-jan-70", "1970-01-01"),
        ("31 March 2024", "2024-03-31"),
        ("31MAR2024", "2024-03-31"),
        ("Mar 31, 2024", "2024-03-31"),
        ("March 31st 2024", "2024-03-31"),
        ("Sun, 31 Mar 2024 10:00:00 GMT", "2024-03-31"),
        ("Sunday, March 31, 2024", "2024-03-31"),
        ("30 Sept 2024", "2024-09-30"),
        # A day of the week after the date, or after its time, as some back offices print it.
        ("2024/01/05 星期五", "2024-01-05"),
        ("2024-01-06 周六", "2024-01-06"),
        ("2024-01-07（日）", "2024-01-07"),
        ("2024年1月5日星期五", "2024-01-05"),
        ("2024年1月5日 周五 14:30", "2024-01-05"),
        ("2024-01-05 14:30:00 周五", "2024-01-05"),
        ("2024-01-05 Fri", "2024-01-05"),
        ("2024-01-05 (Friday)", "2024-01-05"),
        ("25.1.2024 Thu.", "2024-01-25"),
    ],
)
def test_date_forms(raw: str, expected: str) -> None:
    parser = p.DateParser()
    assert parser.parse(raw, 2) == expected
    assert parser.order_problem() == (None, None)


@pytest.mark.parametrize("raw", ["2024-02-30", "31/31/2024", "yesterday", "2024-13-01", "1850-01-01", "24-3-1",
                                 "30-Feb-2024", "Marc 5 2024", "5 Mar", "Mar 5, 24", "99999", "4535", "2024-03-31 25h",
                                 "2024-01-05 日", "2024-01-05 周八", "2024-01-05 Fry", "星期五"])
def test_impossible_dates_are_errors(raw: str) -> None:
    with pytest.raises(ValueError, match=r"date|years"):
        p.DateParser().parse(raw, 2)


@pytest.mark.parametrize(("raw", "expected"), [("2024-03", "2024-03-01"), ("2024/3", "2024-03-01"),
                                             ("2024.12", "2024-12-01"), ("2024年3月", "2024-03-01")])
def test_a_month_without_a_day_is_its_first_day_and_the_first_is_kept_for_a_note(raw: str, expected: str) -> None:
    parser = p.DateParser()
    parser.parse("2024-01-05", 2)
    assert parser.month_example is None
    assert parser.parse(raw, 3) == expected
    assert parser.month_example == (raw, expected, 3)
    with pytest.raises(ValueError, match="date"):
        parser.parse("2024-13", 4)


def test_excel_day_numbers_are_read_as_excel_dates_and_the_first_is_kept_for_a_note() -> None:
    parser = p.DateParser()
    assert parser.serial_example is None
    parser.parse("2024-03-04", 2)
    assert parser.serial_example is None
    assert parser.parse("45356", 3) == "2024-03-05"
    assert parser.parse("45357.75", 4) == "2024-03-06"  # a time of day as the fraction
    assert parser.parse("10000", 5) == "1927-05-18"
    assert parser.serial_example == ("45356", "2024-03-05", 3)
    assert parser.order_problem() == (None, None)
    with pytest.raises(ValueError, match="years"):
        parser.parse("99999", 6)  # 2173


def test_the_columnar_reader_reads_timestamps_as_the_row_validator_does() -> None:
    import pyarrow as pa

    from customers.services.columnar import _dates

    values = ["2024-03-31T23:30:00Z", "2024-03-31T08:00:00.123+08:00", "2024/3/31 下午2:15:00", "2024-03-31 2:15 PM",
              "20240331 08:00:00 +0800", "31-Mar-2024", "45356"]
    iso, ok = _dates(pa.array(values))
    parser = p.DateParser()
    for value, date, fits in zip(values, iso.to_pylist(), ok.to_pylist(), strict=True):
        if fits:  # the columnar reader's own forms; the others are left to the row validator
            assert date == parser.parse(value, 2), value
    assert ok.to_pylist() == [True] * 5 + [False, False]


def test_day_month_order_ambiguous_across_the_file_is_refused() -> None:
    parser = p.DateParser()
    for line, raw in enumerate(["01.02.2024", "03.04.2024", "05.05.2024"], start=2):
        parser.parse(raw, line)
    needed, problem = parser.order_problem()
    assert needed is None
    assert problem == str(p.ERR_DATE_ORDER_AMBIGUOUS).format(example="01.02.2024", line=2)


def test_one_date_settles_the_order_for_the_whole_file() -> None:
    parser = p.DateParser()
    for line, raw in enumerate(["01.02.2024", "25.12.2024"], start=2):
        parser.parse(raw, line)
    assert parser.order_problem() == (None, None)  # day first, as read
    parser = p.DateParser()
    for line, raw in enumerate(["01/02/2024", "12/25/2024"], start=2):
        parser.parse(raw, line)
    assert parser.order_problem() == (p.MONTH_FIRST, None)  # read again month first


def test_mixed_orders_are_refused() -> None:
    parser = p.DateParser()
    parser.parse("25.12.2024", 2)
    parser.parse("12.25.2024", 3)
    assert "mixes day-first" in (parser.order_problem()[1] or "")


def test_a_chosen_order_is_applied() -> None:
    assert p.DateParser(order=p.MONTH_FIRST).parse("01/02/2024", 2) == "2024-01-02"
    assert p.DateParser(order=p.DAY_FIRST).parse("01/02/2024", 2) == "2024-02-01"
    with pytest.raises(ValueError, match="month/day"):
        p.DateParser(order=p.MONTH_FIRST).parse("25.12.2024", 2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.5", "1234.5"),
        ("-12.50", "-12.50"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1\u00a0234,50", "1234.50"),
        ("1'234.50", "1234.50"),
        ("12,5", "12.50"),
        ("1,234,567", "1234567.00"),
        ("1.234.567", "1234567.00"),
        ("$1,234.50", "1234.50"),
        ("¥1,234.50", "1234.50"),
        ("￥1234.5", "1234.50"),
        ("1234.50元", "1234.50"),
        ("CNY 1,234.50", "1234.50"),
        ("€ 1.234,50", "1234.50"),
        ("(12.50)", "-12.50"),
        ("($1,234.50)", "-1234.50"),
        ("-¥12.50", "-12.50"),
        ("¥-12.50", "-12.50"),
        ("12.50-", "-12.50"),
        ("−12.50", "-12.50"),
        ("0.005", "0.01"),
        ("+7", "7.00"),
        ("１２.５０", "12.50"),  # full-width digits, as typed with a Chinese input method
        ("￥１，２３４.５", "1234.50"),
        # Signs with a country before them, more ISO codes, and the currencies' Chinese names.
        ("CN¥1,234.00", "1234.00"),
        ("RMB¥ 12", "12.00"),
        ("JP¥500", "500.00"),
        ("NT$1,200", "1200.00"),
        ("(CA$5.00)", "-5.00"),
        ("12 JPY", "12.00"),
        ("SGD 3.50", "3.50"),
        ("100美元", "100.00"),
        ("人民币 88.8", "88.80"),
        ("3.2万美元", "32000.00"),
        # Excel's accounting format writes a zero as a dash.
        ("-", "0.00"),
        (" $ -   ", "0.00"),
        ("¥ -", "0.00"),
        ("—", "0.00"),
    ],
)
def test_amount_forms(raw: str, expected: str) -> None:
    assert p.amount_parse(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "12.3.4", "1,2,3", "--", "12,3456", "99999999999999999", "12 pcs", "¥",
                                 "美元", "12 ABC"])
def test_bad_amounts_are_errors(raw: str) -> None:
    with pytest.raises(ValueError, match=r"amount|too large"):
        p.amount_parse(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2024-03", "2024-03-01"), ("2024/3", "2024-03-01"), ("202403", "2024-03-01"), ("2024年3月", "2024-03-01"),
     ("3/2024", "2024-03-01"), ("2024-03-15", "2024-03-01"), ("20240315", "2024-03-01"),
     # Excel's month formats, and a month exported as its first day's Excel day number.
     ("Mar-24", "2024-03-01"), ("March 2024", "2024-03-01"), ("MAR.2024", "2024-03-01"), ("2024-Mar", "2024-03-01"),
     ("45352", "2024-03-01"), ("20243", "2024-03-01"), ("2024-03-01T00:00:00Z", "2024-03-01")],
)
def test_month_forms(raw: str, expected: str) -> None:
    assert p.month_parse(raw, 2, p.DateParser()) == expected


def test_row_errors_name_line_column_value_and_reason() -> None:
    plan = p.columns_resolve(kind="transactions", header=["客户编号", "日期", "金额"])
    validate = p.row_validator(plan=plan, dates=p.DateParser())
    row, errors = validate(7, ["", "2024-02-30", "12x"])
    assert row is None
    assert [(e.line, e.column, e.value) for e in errors] == [(7, "客户编号", ""), (7, "日期", "2024-02-30"),
                                                              (7, "金额", "12x")]
    assert errors[0].reason == str(p.REASON_REQUIRED)
    assert errors[2].reason == str(p.REASON_AMOUNT)


@pytest.mark.parametrize("raw", ["1.23457E+11", "1e-05", "4.5E3", "2E+10"])
def test_an_amount_in_scientific_notation_is_refused_with_how_to_save_it_whole(raw: str) -> None:
    with pytest.raises(ValueError, match=r"scientific notation.*format the column as Number"):
        p.amount_parse(raw)



@pytest.mark.parametrize(("raw", "expected"), [('="00123"', "00123"), (' ="A""B" ', 'A"B'), ('="', '="'),
                                               ("=SUM(A1)", "=SUM(A1)"), ("plain", "plain"), ('x="1"', 'x="1"')])
def test_excel_text_formulas_unwrap_to_their_text(raw: str, expected: str) -> None:
    assert p.excel_text_unwrap(raw) == expected
