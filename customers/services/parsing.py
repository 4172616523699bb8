"""Reading real-world CSV exports: encodings, delimiters, headers, dates and amounts.

Pure: no ORM, no database. Everything here streams, so memory does not grow with the file.
The error messages are module constants; tests reuse them.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from clv_dashboard.messages import message_part

# --- Messages (reused by the tests) -----------------------------------------------------------

ERR_ENCODING = _(
    "Line {line} is not UTF-8 text (near \"{snippet}\"), and the file does not read as Chinese "
    "(GBK/GB18030, Big5) or Western European (Windows-1252) text either. Save it from your spreadsheet as "
    "\"CSV UTF-8\" and upload it again."
)
NOTE_WESTERN_ENCODING = _(
    "The file is not UTF-8: it was read as Windows-1252 (Western European, which includes Latin-1), "
    "because its accented letters fit that encoding. Check that a name such as \"{example}\" looks right; "
    "if not, save the file as \"CSV UTF-8\" and upload it again."
)
NOTE_CURRENCY_MARK = _(
    "An amount is written with another currency's sign or code (\"{example}\" on line {line}): it was read as an "
    "amount in {currency}. If it is in another currency, convert it to {currency} and upload the file again (the "
    "import does not convert currencies)."
)
NOTE_CURRENCY_MARKS = _(
    "{count} amounts are written with another currency's sign or code (\"{example}\" on line {line}): each was "
    "read as an amount in {currency}. If they are in another currency, convert them to {currency} and upload the "
    "file again (the import does not convert currencies)."
)
NOTE_MONTH_DATES = _(
    "Some dates give a month only (\"{example}\" on line {line}, read as {date}): each was read as the first "
    "day of its month. The board counts by month; the customers' predicted value sees one purchase day a month."
)
NOTE_EXCEL_DAY_NUMBERS = _(
    "Some dates are Excel day numbers (\"{example}\" on line {line}, read as {date}): the date column "
    "was exported in the General format. If that column does not hold dates, undo this import and map "
    "{field} to the right column."
)
NOTE_AMOUNT_SCALE = _(
    "Column \"{column}\" is in {unit}: its amounts were multiplied by {factor} when stored (1.5 in the file is "
    "stored as {example}). If the column holds plain amounts, undo this import and rename the column."
)
NOTE_LONE_CELLS = _(
    "{count} line(s) with a single filled cell not read: a title or a note, not a row of data, such as "
    "\"{example}\" (line {lines})."
)
NOTE_EXCEL_TEXT = _(
    "Cells written as =\"…\" (Excel's way to keep a code's leading zeros) were read as the text inside: "
    "=\"00123\" as 00123."
)
NOTE_REVENUE_FROM_QUANTITY = _(
    "The file has no amount column: each line's revenue is its quantity times its unit price (\"{quantity}\" x "
    "\"{price}\"), rounded to cents."
)
NOTE_NOT_REVENUE = _(
    "{count} line(s) not read: their order status says the order was cancelled, not paid or refunded in full "
    "({statuses})."
)
NOTE_REPEATED_HEADER = _(
    "{count} repeated header line(s) not read: the file's header again, as where exports are joined one after "
    "another (line {lines})."
)
NOTE_SUMMARY_ROWS = _(
    "{count} total row(s) not read: a total or subtotal with no date, as exports add under the data (line {lines})."
)
ERR_DECODE = _("The file stops being valid {encoding} text near line {line}. Save it again as \"CSV UTF-8\".")
ERR_EMPTY_FILE = _("The file is empty: it needs a header row and at least one data row.")
ERR_NO_DATA_ROWS = _("The file has a header row but no data rows.")
ERR_BAD_CSV = _("The file cannot be read as CSV near line {line} ({detail}). Check for an unclosed quote.")
ERR_MISSING_COLUMNS = _(
    "Required column(s) missing: {missing}. Columns found in the file: {found}. Needed: {needed}. "
    "Rename the columns, or map them by hand (on the import page, or with --map FIELD=COLUMN)."
)
ERR_COST_SHAPES_MIXED = _(
    "The file has both a kind and amount column ({long}) and a column per kind ({wide}). Use one shape: "
    "a kind and an amount on each row, or one column per kind (acquisition cost, retention cost)."
)
ERR_DUPLICATE_COLUMN = _(
    "Columns {first} and {second} both look like \"{field}\". Map the one to use by hand "
    "(--map {field_name}=COLUMN)."
)
ERR_MAPPING_UNKNOWN_FIELD = _("Cannot map \"{field_name}\": the fields of this kind of file are {fields}.")
ERR_MAPPING_UNKNOWN_COLUMN = _("Cannot map {field_name} to \"{column}\": the file has no such column. Columns found: {found}.")
ERR_MAPPING_SYNTAX = _("Write each mapping as FIELD=COLUMN, for example revenue=dollar_value (got \"{text}\").")
ERR_DATE_ORDER_AMBIGUOUS = _(
    "Dates such as \"{example}\" (line {line}) could be day/month or month/day, and no date in the file "
    "settles it. Choose the date order (day first or month first) and import again."
)
ERR_DATE_ORDER_MIXED = _(
    "The file mixes day-first dates (\"{dmy_example}\", line {dmy_line}) and month-first dates "
    "(\"{mdy_example}\", line {mdy_line}). Fix the file, or choose the date order to use."
)

# Row-level reasons.
REASON_REQUIRED = _("is empty; a value is required")
REASON_TOO_LONG = _("is longer than {limit} characters")
REASON_QUANTITY = _("is not a quantity (use 2, 2.5, 1,200, or -1 for a return)")
REASON_CURRENCY = _(
    "is not {currency}, the currency the board counts in: convert these amounts to {currency} first (the import "
    "does not convert currencies)"
)
REASON_DATE_FUTURE = _("is after {today}: an order cannot be dated in the future (check its year, and the day/month order)")
REASON_DATE = _("is not a date (use 2024-03-31, 2024/3/31, 20240331 or 31.3.2024)")
REASON_DATE_RANGE = _("is outside the years 1900-2100")
REASON_DATE_ORDER = _("is not a valid date in the chosen {order} order")
REASON_AMOUNT = _("is not an amount (use 1234.50, 1,234.50, ¥1 234,50 or (12.50) for a negative)")
REASON_AMOUNT_RANGE = _("is too large")
REASON_AMOUNT_SCIENTIFIC = _(
    "is in scientific notation, which Excel writes for a number too wide for its column and which may have "
    "lost digits; format the column as Number with 2 decimals and save the file again"
)
REASON_MONTH = _("is not a month (use 2024-03, 2024/3, 202403 or a date in the month)")
REASON_COST_KIND = _("is not a cost kind (use acquisition/获客 or retention/留存)")
REASON_COST_NEGATIVE = _("is negative; a cost must be zero or more")
REASON_COST_NO_AMOUNT = _("is empty, and so is every other cost column of the row: give at least one amount")
REASON_DIMENSION = _("is not a segment dimension (use region, product_line, business_unit or acquisition_channel)")
REASON_DIMENSION_WITHOUT_VALUE = _("is empty while the segment dimension is given")
REASON_VALUE_WITHOUT_DIMENSION = _("is given without a segment dimension")
REASON_SEGMENT_TWICE = _("is a second segment for this cost (column \"{other}\" names one already); a cost belongs to one segment")
REASON_EXTRA_FIELDS = _("the row has {count} values but the header has {expected} columns")
REASON_NUL = _(
    "holds a NUL byte (a binary zero, shown here as \\0), which is not text; remove it from the file, "
    "or save the file again as \"CSV UTF-8\""
)
REASON_ORDER_CUSTOMERS = _("order {order_id} has lines for different customers ({customers})")

DAY_FIRST = "dmy"
MONTH_FIRST = "mdy"
DATE_ORDERS = (DAY_FIRST, MONTH_FIRST)
WHITESPACE = "whitespace"
SNIFF_BYTES = 64 * 1024


class ImportRefused(Exception):
    """The whole file is refused; the message says why and how to fix it. `parts` keeps it as
    template + values (clv_dashboard.messages), so that each reader sees it in their language."""

    def __init__(self, message: str, parts: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.parts = parts or []


class Reason(ValueError):
    """Why a value is invalid, kept as template + values (RowError.parts) as well as text."""

    def __init__(self, template: Any, **params: Any) -> None:
        super().__init__(str(template).format(**params))
        self.parts = [message_part(template, **params)]


def refused(template: Any, **params: Any) -> ImportRefused:
    """The refusal for a message constant filled with `params`, in the active language."""
    return ImportRefused(str(template).format(**params), [message_part(template, **params)])


# --- Fields of the three kinds of file --------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Any
    required: bool
    synonyms: tuple[str, ...]
    max_length: int = 100


# Traditional characters of the names and words this module knows, to their simplified forms:
# a Hong Kong or Taiwan export's 客戶編號, 訂單日期, 金額, 區域, 獲客, 合計 are 客户编号, 订单日期,
# 金额, 区域, 获客, 合计. Only header names and keywords are compared so; values are kept as written.
_TRADITIONAL = str.maketrans(
    "萬業買產億價會創別製務區單發臺號員張總戶戸護據數時機來歐稱稅類線細紹結維編薦獲營計訂記賬帳費過銷鎊門間際頁顧額幣實屬碼禮繫係標題說週貨購電話郵點項優錢貿",
    "万业买产亿价会创别制务区单发台号员张总户户护据数时机来欧称税类线细绍结维编荐获营计订记账账费过销镑门间际页顾额币实属码礼系系标题说周货购电话邮点项优钱贸",
)


def _norm(text: str) -> str:
    """Header text compared case-, width- and spacing-insensitively ("Customer ID" == "customer_id"),
    and in simplified characters (客戶編號 == 客户编号)."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower().translate(_TRADITIONAL))


header_key = _norm  # the same, for the callers outside this module


# A currency unit after a column's name: 金额(元), 销售额（人民币）, Revenue (USD), 金额/元.
_CURRENCY_UNIT = re.compile(
    r"\s*(?:[(\[【]\s*(?:元|人民币|rmb|cny|usd|us\$|\$|¥|eur|€|hkd|gbp|£)\s*[)\]】]|/\s*(?:元|人民币|rmb|cny|usd))\s*$",
    re.IGNORECASE,
)
# A scale after an amount column's name, the currency before or after it or none: 金额(万元),
# 营销费用（单位：万元）, 销售额/千元, 收入(人民币百万元), Revenue ($000), Sales (in thousands),
# Spend (USD k), Revenue (EUR millions). The column's amounts are multiplied by it when stored,
# and the import says so (AMOUNT_FIELDS; NOTE_AMOUNT_SCALE).
_CURRENCY_WORD = r"(?:人民币|rmb|cny|usd|us\$|\$|¥|eur|€|hkd|gbp|£)"
_SCALE_WORD = (r"(?P<zh>亿|千万|百万|万|千)元?"
               r"|(?:in\s+)?(?P<en>thousands?|'?000s?|k|millions?|mn|mm|m(?=\s*[)\]】]))(?:\s+of)?")
_SCALED_UNIT = re.compile(
    rf"\s*(?:[(\[【]|/)\s*(?:单位\s*[:：]?\s*)?{_CURRENCY_WORD}?\s*(?:{_SCALE_WORD})\s*{_CURRENCY_WORD}?\s*[)\]】]?\s*$",
    re.IGNORECASE,
)
_SCALES = {"亿": 10**8, "千万": 10**7, "百万": 10**6, "万": 10**4, "千": 10**3}
# The fields holding amounts, which a scale in their column's name multiplies.
AMOUNT_FIELDS = ("revenue", "cost", "amount", "acquisition_amount", "retention_amount", "unit_price")


def amount_scale(text: str) -> tuple[int, str] | None:
    """The scale an amount column's name gives its values, with the unit as written: (10000,
    "万元") for 金额(万元), (1000, "$000") for Revenue ($000); None for a name without one."""
    plain = unicodedata.normalize("NFKC", text)
    m = _SCALED_UNIT.search(plain)
    if m is None:
        return None
    if m.group("zh"):
        factor = _SCALES[m.group("zh")]
    else:
        word = m.group("en").lower().lstrip("'")
        factor = 10**3 if word.startswith(("thousand", "000", "k")) else 10**6
    unit = re.sub(r"^单位\s*[:：]?\s*", "", m.group(0).strip().strip("()[]【】/").strip())
    return factor, unit


def header_forms(text: str) -> set[str]:
    """The normalised names a header cell is known by: as written, without a currency unit, and
    without a scale (金额(万元) is known as 金额: its amounts are multiplied, see amount_scale)."""
    plain = unicodedata.normalize("NFKC", text)
    return {_norm(plain), _norm(_CURRENCY_UNIT.sub("", plain)), _norm(_SCALED_UNIT.sub("", plain))} - {""}


_ATTRIBUTES = (
    FieldSpec("region", _("region"), False, ("region", "area", "salesregion", "区域", "地区", "大区", "销售区域")),
    FieldSpec("product_line", _("product line"), False, ("productline", "productcategory", "产品线", "产品系列")),
    FieldSpec("business_unit", _("business unit"), False, ("businessunit", "bu", "division", "事业部", "业务单元")),
    FieldSpec(
        "acquisition_channel", _("channel"), False,
        ("acquisitionchannel", "channel", "saleschannel", "渠道", "获客渠道", "来源渠道"),
    ),
)
_CUSTOMER_ID = FieldSpec(
    "customer_id", _("customer id"), True,
    ("customerid", "customer", "custid", "customerno", "customernumber", "customercode", "clientid", "client",
     "accountid", "memberid", "buyerid", "userid", "客户编号", "客户id", "客户号", "客户代码", "客户",
     "会员编号", "会员id", "顾客编号", "顾客id", "用户id"),
)
_NAME = FieldSpec("name", _("customer name"), False, ("name", "customername", "clientname", "客户名称", "客户名", "名称", "姓名"), 200)
# The customer id of the customer who referred this one (METRICS.md, Referrals), kept as written.
_REFERRED_BY = FieldSpec(
    "referred_by", _("referred by"), False,
    ("referredby", "referredbycustomer", "referredbycustomerid", "referredbyid", "referrer", "referrerid",
     "referrercustomerid", "referrercode", "referrerscode", "referralcodeofthereferrer", "referrerreferralcode",
     "referringcustomer", "referringcustomerid", "推荐人", "推荐人编号", "推荐人id", "推荐人代码", "推荐人客户编号",
     "推荐客户", "推荐客户编号", "推荐客户id", "介绍人", "介绍人编号", "介绍人id", "推荐人推荐码"),
)

# The currency of a row's amounts: checked, not stored (the board counts in CLV_CURRENCY alone).
_CURRENCY_FIELD = FieldSpec(
    "currency", _("currency"), False,
    ("currency", "currencycode", "curr", "ccy", "币种", "币别", "货币", "结算币种", "交易币种", "货币代码"),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "transactions": (
        _CUSTOMER_ID,
        FieldSpec(
            "order_id", _("order id"), False,
            ("orderid", "order", "orderno", "ordernumber", "invoiceid", "invoice", "invoiceno", "invoicenumber",
             "transactionid", "订单号", "订单编号", "订单id", "单号", "发票号"),
        ),
        FieldSpec(
            "order_date", _("order date"), True,
            ("orderdate", "date", "transactiondate", "invoicedate", "purchasedate", "saledate", "salesdate",
             "订单日期", "日期", "下单日期", "交易日期", "销售日期"),
        ),
        FieldSpec(
            "revenue", _("revenue"), True,
            ("revenue", "amount", "sales", "salesamount", "total", "totalamount", "netsales", "netrevenue",
             "金额", "销售额", "收入", "销售金额", "订单金额", "实收金额", "营业收入"),
        ),
        FieldSpec("cost", _("cost"), False, ("cost", "cogs", "costofgoods", "costofgoodssold", "成本", "销售成本")),
        # The order's status: a line of a cancelled, unpaid or fully refunded order is not revenue
        # (ORDER_NOT_REVENUE); not stored.
        FieldSpec("order_status", _("order status"), False, ("orderstatus", "订单状态", "交易状态", "订单交易状态")),
        _CURRENCY_FIELD,
        # A line's quantity and unit price: its revenue when the file has no amount column
        # (ColumnPlan.revenue_from_quantity); ignored otherwise.
        FieldSpec("quantity", _("quantity"), False, ("quantity", "qty", "数量", "销售数量", "件数", "出库数量")),
        FieldSpec("unit_price", _("unit price"), False,
                  ("unitprice", "price", "priceperunit", "sellingprice", "单价", "销售单价", "含税单价", "成交单价", "售价")),
        _NAME,
        *_ATTRIBUTES,
        _REFERRED_BY,
    ),
    "customers": (_CUSTOMER_ID, _NAME, *_ATTRIBUTES, _REFERRED_BY),
    "costs": (
        FieldSpec("month", _("month"), True, ("month", "period", "costmonth", "月份", "月", "期间")),
        FieldSpec("kind", _("kind"), True, ("kind", "type", "costtype", "costkind", "类型", "费用类型", "成本类型")),
        FieldSpec("amount", _("amount"), True, ("amount", "cost", "spend", "金额", "费用", "成本", "支出")),
        _CURRENCY_FIELD,
        FieldSpec(
            "segment_dimension", _("segment dimension"), False,
            ("segmentdimension", "dimension", "segment", "segmenttype", "维度", "分部维度", "细分维度"),
        ),
        FieldSpec(
            "segment_value", _("segment value"), False,
            ("segmentvalue", "value", "dimensionvalue", "segmentname", "维度值", "值", "分部", "细分值"),
        ),
        # A column per kind, one row per month (and segment): "month, acquisition cost, retention
        # cost", as a finance sheet lays them out; read instead of kind and amount (WIDE_COST_FIELDS).
        FieldSpec("acquisition_amount", _("acquisition cost"), False,
                  ("acquisitioncost", "acquisitioncosts", "acquisitionspend", "acquisitionamount", "acquisition",
                   "获客成本", "获客费用", "获客", "拉新成本", "拉新费用", "新客成本", "新客费用")),
        FieldSpec("retention_amount", _("retention cost"), False,
                  ("retentioncost", "retentioncosts", "retentionspend", "retentionamount", "retention",
                   "留存成本", "留存费用", "留存", "维系成本", "维系费用", "老客成本", "老客维护费用")),
        # A segment column named by its dimension, holding the value itself ("region": East);
        # a cost centre is a business unit.
        *(FieldSpec(f"segment_{a.name}", a.label, False,
                    (*a.synonyms, *(("costcentre", "costcenter", "成本中心") if a.name == "business_unit" else ())))
          for a in _ATTRIBUTES if a.name in ("region", "product_line", "business_unit", "acquisition_channel")),
    ),
}
# Names of back-office and shop exports (Kingdee, Yonyou, SAP, Taobao/Tmall, web shops),
# taken for a field only when no column has one of its names above: a file with both `customer_id`
# and `email` takes `customer_id`, and a file with `email` alone takes that. In order of
# preference: a Taobao export has both 买家实际支付金额 (paid) and 总金额 (before discounts).
FALLBACK_NAMES: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerkey", "customerref", "customerreference", "clientcode", "clientno", "clientnumber", "buyer",
        "memberno", "membercode", "membernumber", "email", "customeremail", "soldto", "soldtoparty",
        "买家会员名", "买家账号", "买家id", "会员号", "会员卡号", "用户编号", "用户名", "客户编码", "往来单位编码",
        "客户手机号", "会员手机号", "手机号",
    ),
    "order_status": ("financialstatus", "paymentstatus", "付款状态", "支付状态", "status", "状态"),
    "order_id": (
        "orderref", "orderreference", "salesorder", "salesorderno", "salesordernumber", "sonumber", "sono",
        "documentno", "documentnumber", "docno", "receiptno", "receiptnumber", "transactionno", "transactionnumber",
        "txnid", "billingdocument", "billingdoc", "主订单编号", "交易号", "交易单号", "单据编号", "单据号",
        "销售单号", "销售订单号", "发票号码", "流水号", "小票号",
    ),
    "order_date": (
        "下单时间", "订单创建时间", "创建时间", "订单时间", "成交时间", "交易时间", "付款时间", "订单付款时间", "支付时间",
        "单据日期", "业务日期", "开票日期", "记账日期", "过账日期",
        "ordertime", "orderdatetime", "orderedat", "createdat", "created", "createdate", "creationdate",
        "transactiontime", "transactiondatetime", "datetime", "documentdate", "billingdate", "postingdate", "paidat",
        "paymentdate",
        # Last: a file of monthly totals per customer names its date column as a month (the
        # month-only dates are read as the first day: DateParser).
        "month", "period", "月份", "期间", "年月",
    ),
    "revenue": (
        "买家实际支付金额", "实付金额", "实付款", "支付金额", "实收金额合计", "实收", "实收款", "收款金额", "结算金额",
        "成交金额", "交易金额", "价税合计", "含税金额", "销售收入", "订单总金额", "总金额", "合计金额",
        "amountpaid", "paidamount", "netamount", "netvalue", "netsales", "ordertotal", "orderamount", "ordervalue",
        "grandtotal", "totalprice", "invoiceamount", "salesvalue", "linetotal", "totalsales", "grosssales",
    ),
    "cost": ("costamount", "costofsales", "成本金额", "商品成本", "营业成本"),
    "name": ("buyername", "fullname", "customerfullname", "companyname", "买家姓名", "会员名称", "会员姓名",
             "单位名称", "往来单位", "往来单位名称", "公司名称"),
    "region": ("territory", "salesterritory", "zone", "salesarea", "片区", "销售大区", "所属区域", "区域名称"),
    "product_line": ("category", "productgroup", "productfamily", "itemcategory", "品类", "产品类别", "商品类目",
                     "商品分类", "产品大类", "类目"),
    "business_unit": ("department", "dept", "业务部门", "部门", "销售部门", "所属事业部"),
    "acquisition_channel": ("ordersource", "marketingchannel", "销售渠道", "订单来源", "来源", "渠道名称",
                            "平台"),
}


@dataclass(frozen=True)
class ExportProfile:
    """An export known by its own columns (all of `signature` present), read by its own rules:
    its fields' columns (`columns`, normalised names, where the file has them and no hand
    mapping says otherwise), and `first_line_totals`: one line per item of an order, the
    order's own values (its total, its customer and date) on its first line only, blank on the
    others. The lines of an order are summed, as line items are (docs/csv-formats.md)."""

    key: str
    signature: frozenset[str]
    columns: dict[str, str]
    first_line_totals: bool
    # A column whose amount is taken off the revenue of its line (a refund the export gives
    # beside the order's total, with no date of its own): the order counts its net revenue.
    refunded: str = ""


# Shopify's orders export: the order is "Name" (#1001), the customer "Email", its name "Billing
# Name"; one row per line item, the order's Total on its first row.
SHOPIFY = ExportProfile(
    key="shopify", signature=frozenset({"name", "email", "lineitemname", "financialstatus", "total"}),
    columns={"order_id": "name", "customer_id": "email", "order_date": "createdat", "revenue": "total",
             "name": "billingname"},
    first_line_totals=True, refunded="refundedamount",
)
EXPORT_PROFILES = {"transactions": (SHOPIFY,)}
PROFILE_NOTES = {
    "shopify": _("Read as a Shopify orders export: each order is its Name (#1001), summed from its lines, with the "
                 "Total of its first line (blank on the others) less its Refunded Amount; the customer is the Email, "
                 "named by the Billing Name."),
}


def known_names(kind: str) -> set[str]:
    """Every normalised column name some field of `kind` is known by (fallbacks included)."""
    return {n for spec in FIELDS[kind] for n in (*spec.synonyms, *FALLBACK_NAMES.get(spec.name, ()))}


# The cost file's columns named by a dimension: field name -> dimension.
COST_SEGMENT_COLUMNS = {s.name: s.name.removeprefix("segment_") for s in FIELDS["costs"]
                        if s.name.startswith("segment_") and s.name not in ("segment_dimension", "segment_value")}
# The cost file's columns of one kind each (a wide file): field name -> cost kind.
WIDE_COST_FIELDS = {"acquisition_amount": "acquisition", "retention_amount": "retention"}

COST_KINDS = {
    "acquisition": ("acquisition", "acq", "获客", "获客成本", "拉新", "新客"),
    "retention": ("retention", "ret", "留存", "留存成本", "维系", "老客"),
}
_COST_KIND_LOOKUP = {_norm(v): kind for kind, values in COST_KINDS.items() for v in values}
_DIMENSIONS = {
    "region": ("region", "区域", "地区"),
    "product_line": ("product_line", "productline", "产品线"),
    "business_unit": ("business_unit", "businessunit", "事业部"),
    "acquisition_channel": ("acquisition_channel", "channel", "渠道", "获客渠道"),
}
_DIMENSION_LOOKUP = {_norm(v): dim for dim, values in _DIMENSIONS.items() for v in values}


# --- Encoding and delimiter -------------------------------------------------------------------

ENCODING_LABELS = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "gb18030": "GB18030/GBK", "utf-16": "UTF-16",
    "cp1252": "Windows-1252 (Latin-1)", "cp950": "Big5 (Traditional Chinese)",
}
WESTERN = "cp1252"
BIG5 = "cp950"  # Big5 with Microsoft's additions, as Windows writes it
# A non-UTF-8, non-GB file is read as Big5 only when this share of its non-ASCII characters are
# in Big5's first level (the 5,401 common hanzi and the symbols).
BIG5_COMMON_SHARE = 0.8
# A non-UTF-8 file is read as GB18030 only when this share of its non-ASCII characters are in
# GB2312, the 6,763 common hanzi and the CJK punctuation: real Chinese text is nearly all
# GB2312, while Latin-1 or mixed bytes read as GB18030 give rare or private-use characters.
GB_COMMON_SHARE = 0.8
# Windows-1252 is accepted only when every non-ASCII character is a Latin letter or a common
# symbol, most words with an accented letter also hold plain letters ("Müller", not "ÿÿÿ"),
# and no byte pair is a UTF-8 sequence (a file half UTF-8 and half Latin-1 is refused rather
# than half mis-read).
WESTERN_ACCENT_ONLY_SHARE = 0.2
_LATIN_LETTERS = "À-ÖØ-öø-ÿŒœŠšŽžŸ"
_LATIN_SYMBOLS = re.escape("€£¥§°±µ·«»‘’‚“”„–—…¿¡´¨ªº²³¹½¼¾®©™¢•\xa0")
_WESTERN_FOREIGN = re.compile(f"[^\\x00-\\x7f{_LATIN_LETTERS}{_LATIN_SYMBOLS}]")
_WESTERN_WORD = re.compile(f"[A-Za-z{_LATIN_LETTERS}]*[{_LATIN_LETTERS}][A-Za-z{_LATIN_LETTERS}]*")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_ASCII_RUNS = re.compile(r"[\x00-\x7f]+")
_ASCII_LETTER = re.compile("[A-Za-z]")


@dataclass(frozen=True)
class EncodingFinding:
    """The codec a file is read with and, for a Windows-1252 file, a word to check by eye."""

    encoding: str
    example: str = ""


def _line_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """The file in chunks of about `size` bytes that end at a line end."""
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk + f.readline()


def _decodes_fully(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for chunk in _line_chunks(path):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, str]:
    """The first line (1-based) that is not valid `encoding`, and a readable piece of it."""
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                start = max(exc.start - 20, 0)
                piece = line[start : exc.start + 20].decode(encoding, errors="replace").strip()
                return number, piece.replace("\ufffd", "?")
    return 0, ""


def _common_share(path: Path, codec: str, common_of: Callable[[str], int]) -> float | None:
    """The share of the file's non-ASCII characters that `common_of` counts as common, read with
    `codec` (the whole file, chunk by chunk); None when the file does not decode or has none."""
    decoder = codecs.getincrementaldecoder(codec)()
    wide_count = common = 0
    try:
        for chunk in _line_chunks(path):
            wide = _ASCII_RUNS.sub("", decoder.decode(chunk))
            if wide:
                wide_count += len(wide)
                common += common_of(wide)
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None
    return common / wide_count if wide_count else None


def _in_gb2312(wide: str) -> int:
    # Nothing ASCII is left, so each "?" is a character outside GB2312.
    return len(wide) - wide.encode("gb2312", errors="replace").count(b"?")


# Bytes that are not a lead byte of Big5's first level (A1-C6: the common hanzi and the symbols).
_BIG5_NOT_FIRST_LEVEL = bytes(b for b in range(256) if not 0xA1 <= b <= 0xC6)


def _in_big5_first_level(wide: str) -> int:
    encoded = wide.encode(BIG5)
    # Every character is two bytes here (nothing ASCII is left): count the lead bytes in C.
    return len(encoded[::2].translate(None, _BIG5_NOT_FIRST_LEVEL)) if len(encoded) == 2 * len(wide) else 0


def _gb_plausible(path: Path) -> bool:
    share = _common_share(path, "gb18030", _in_gb2312)
    return share is not None and share >= GB_COMMON_SHARE


def _big5_plausible(path: Path) -> bool:
    """Whether the file reads as Traditional Chinese in Big5 (Windows' code page 950, as Hong
    Kong and Taiwan systems export): it decodes whole, and BIG5_COMMON_SHARE of its non-ASCII
    characters are the common hanzi and punctuation of Big5's first level (lead bytes A1-C6);
    another encoding read as Big5 gives the rare second-level characters."""
    share = _common_share(path, BIG5, _in_big5_first_level)
    return share is not None and share >= BIG5_COMMON_SHARE


def _western_example(path: Path) -> str | None:
    """A word with an accented letter when the file reads confidently as Windows-1252, else None."""
    words = accent_only = 0
    example = ""
    try:
        for chunk in _line_chunks(path):
            if _UTF8_SEQUENCE.search(chunk):
                return None
            text = chunk.decode(WESTERN)
            if _WESTERN_FOREIGN.search(text):
                return None
            for word in _WESTERN_WORD.findall(text):
                words += 1
                if not _ASCII_LETTER.search(word):
                    accent_only += 1
                elif not example:
                    example = word
    except UnicodeDecodeError:
        return None
    if accent_only > WESTERN_ACCENT_ONLY_SHARE * words:
        return None
    return example


def encoding_examine(*, path: Path) -> EncodingFinding:
    """How to read the file: BOM first, then UTF-8, then GB18030 (a superset of GBK) when the
    file reads as plausible Chinese, then Big5 when it reads as plausible Traditional Chinese,
    then Windows-1252 when the file reads confidently as Western European text; otherwise
    refused, naming the first line that is not UTF-8.

    The whole file is checked (C loops), so a GBK byte in row 900,000 is not missed."""
    with path.open("rb") as f:
        head = f.read(4)
    if not head:
        raise refused(ERR_EMPTY_FILE)
    if head.startswith(codecs.BOM_UTF8):
        return EncodingFinding("utf-8-sig")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return EncodingFinding("utf-16")
    if _decodes_fully(path, "utf-8"):
        return EncodingFinding("utf-8")
    if _gb_plausible(path):
        return EncodingFinding("gb18030")
    if _big5_plausible(path):
        return EncodingFinding(BIG5)
    example = _western_example(path)
    if example is not None:
        return EncodingFinding(WESTERN, example)
    line, snippet = _first_undecodable_line(path, "utf-8")
    raise refused(ERR_ENCODING, line=line, snippet=snippet)


def encoding_detect(*, path: Path) -> str:
    """The Python codec name to read the file with (see encoding_examine)."""
    return encoding_examine(path=path).encoding


def delimiter_sniff(*, lines: list[str]) -> str:
    """The delimiter most consistent over the first lines: comma, semicolon, tab, pipe, full-width comma, or runs of
    whitespace (as in the CDNOW log). A candidate must split the header into 2+ columns and give
    the header's column count on at least 80% of the lines."""
    lines = [line for line in lines if line.strip()][:50]
    if not lines:
        return ","
    best, best_cols = "", 1
    # The full-width comma last: a file typed with a Chinese input method (客户编号，订单号，金额).
    for delimiter in (",", ";", "\t", "|", "\uff0c"):
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        header = counts[0]
        if header > best_cols and sum(c == header for c in counts) >= 0.8 * len(counts):
            best, best_cols = delimiter, header
    if best:
        return best
    counts = [len(line.split()) for line in lines]
    if counts[0] >= 2 and sum(c == counts[0] for c in counts) >= 0.8 * len(counts):
        return WHITESPACE
    return ","


def delimiter_label(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "\uff0c": "full-width comma",
            WHITESPACE: "whitespace"}[delimiter]


# --- Streaming rows ---------------------------------------------------------------------------


# Control characters str.strip() removes but Arrow's trim does not (U+001C-U+001F, U+0085), in UTF-8.
_ODD_SPACES = (b"\x1c", b"\x1d", b"\x1e", b"\x1f", b"\xc2\x85")


class CountingReader(io.RawIOBase):
    """A binary file counting, as they pass, its bytes (for progress), and for the columnar
    reader's checks its line feeds, NUL bytes and odd spaces."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0
        self.line_feeds = 0
        self.nuls = 0
        self.odd_spaces = 0
        self.last = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer) or 0  # type: ignore[attr-defined]
        if n:
            data = bytes(memoryview(buffer)[:n])
            self.count += n
            self.line_feeds += data.count(b"\n")
            self.nuls += data.count(b"\x00")
            self.odd_spaces += sum(data.count(odd) for odd in _ODD_SPACES)
            if self.last == b"\xc2" and data.startswith(b"\x85"):  # U+0085 across two reads
                self.odd_spaces += 1
            self.last = data[-1:]
        return n


# The totals line some exports put under the data (or under each group): its first filled cell
# says so, and it has no date (its date cell is blank, or is that first cell). Not a row of
# data: not read, not counted, not an error, and listed on the import.
SUMMARY_WORDS = frozenset(_norm(w) for w in (
    "合计", "总计", "小计", "共计", "总合计", "合计金额", "本页合计", "Total", "Totals", "Grand total", "Subtotal", "Sum",
))
_DATE_FIELDS = {"transactions": "order_date", "costs": "month"}


def row_is_summary(*, plan: ColumnPlan, values: list[str]) -> bool:
    """A totals line of a transactions or costs file (see SUMMARY_WORDS)."""
    field = _DATE_FIELDS.get(plan.kind)
    i = plan.indexes.get(field or "")
    if field is None or i is None:
        return False
    first = next((n for n, v in enumerate(values) if v.strip()), None)
    if first is None or (first != i and i < len(values) and values[i].strip()):
        return False  # the date cell holds something other than the first filled cell: a row of data
    return _norm(values[first]) in SUMMARY_WORDS


# Order statuses of a line that is not revenue: the order was cancelled or voided, never paid,
# or refunded in full (Taobao's 交易关闭 is a closed order that was never paid or was refunded
# whole; Shopify's financial status voided or refunded). Any other status is read, a partial
# refund included. Traditional spellings are listed (the columnar reader compares these keys).
ORDER_NOT_REVENUE = (
    "cancelled", "canceled", "cancel", "void", "voided", "refunded", "fullyrefunded", "failed", "expired",
    "declined", "unpaid", "notpaid", "awaitingpayment", "pendingpayment", "abandoned",
    "已取消", "取消", "订单取消", "交易取消", "已撤销", "交易关闭", "已关闭", "关闭", "已退款", "退款成功", "全额退款",
    "已全额退款", "待付款", "未付款", "等待买家付款", "等待付款", "付款失败", "支付失败", "已作废", "作废", "无效",
    "已失效", "交易關閉", "已關閉", "關閉", "訂單取消", "已撤銷", "全額退款", "已全額退款", "等待買家付款", "付款失敗",
    "支付失敗", "已作廢", "作廢", "無效",
)


def status_key(text: str) -> str:
    """An order status as compared with ORDER_NOT_REVENUE: NFKC, lower case, without spaces,
    underscores and hyphens (the columnar reader computes the same in Arrow)."""
    return re.sub(r"[\s_-]+", "", unicodedata.normalize("NFKC", text).lower())


_NOT_REVENUE_KEYS = frozenset(status_key(s) for s in ORDER_NOT_REVENUE)
NOT_REVENUE_KEYS = sorted(_NOT_REVENUE_KEYS)


def row_not_revenue(*, plan: ColumnPlan, values: list[str]) -> str | None:
    """The status of a transactions row whose order status says it is not revenue (see
    ORDER_NOT_REVENUE), as written, unless its amount is negative (a refund's own line); None
    otherwise. Such a row is not read, not counted, not an error, and listed on the import."""
    i = plan.indexes.get("order_status")
    if i is None or i >= len(values):
        return None
    status = values[i].strip()
    if not status or status_key(status) not in _NOT_REVENUE_KEYS:
        return None
    # A refund's own line (a negative amount) is read whatever its status says: it nets the sale.
    r = plan.indexes.get("revenue")
    if r is not None and r < len(values):
        try:
            if amount_parse(values[r]).startswith("-"):
                return None
        except ValueError:
            pass
    return status


# Names a currency goes by in exports, to its ISO code.
_CURRENCY_NAMES = {
    "RMB": "CNY", "人民币": "CNY", "人民幣": "CNY", "¥": "CNY", "元": "CNY", "CN¥": "CNY",
    "美元": "USD", "US$": "USD", "港币": "HKD", "港元": "HKD", "港幣": "HKD", "HK$": "HKD", "欧元": "EUR",
    "歐元": "EUR", "€": "EUR", "英镑": "GBP", "英鎊": "GBP", "£": "GBP", "日元": "JPY", "日圓": "JPY",
    "新台币": "TWD", "新台幣": "TWD", "台币": "TWD", "NT$": "TWD",
}


def currency_code(text: str) -> str:
    """A currency as an ISO code (RMB, 人民币 and ¥ are CNY), or the text upper-cased."""
    key = unicodedata.normalize("NFKC", text).strip().upper()
    return _CURRENCY_NAMES.get(key, key)


# Signs that name a currency currency_code does not: $ alone is the US dollar's.
_MARK_CODES = {"$": "USD", "S$": "SGD", "A$": "AUD", "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "JP¥": "JPY",
               "RMB¥": "CNY", "₩": "KRW", "₹": "INR"}


def amount_currency(raw: str) -> str | None:
    """The ISO code of the currency a sign, code or name in an amount's cell stands for
    (US$5 -> USD, 5元 -> CNY, (€12) -> EUR, $5 -> USD), or None when the cell names none."""
    text = unicodedata.normalize("NFKC", raw).strip().strip("()").strip().lstrip("-+").strip()
    found = _CURRENCY.search(text)
    if found is None:
        return None
    mark = found.group(0).strip().upper()
    return _MARK_CODES.get(mark) or currency_code(mark)


@dataclass
class CurrencyMarks:
    """Amounts whose own cell names another currency than the board's (US$5 under CNY): read as
    they are (a currency column is what refuses a row), counted for a note on the import."""

    board: str
    count: int = 0
    example: tuple[str, int] | None = None  # (as written, line)

    def record(self, raw: str, line: int) -> None:
        code = amount_currency(raw)
        if code is not None and code != self.board:
            self.count += 1
            if self.example is None:
                self.example = (raw.strip(), line)


def currency_marks() -> CurrencyMarks:
    return CurrencyMarks(board=currency_code(str(settings.CLV_CURRENCY)))


def currencies_accepted() -> list[str]:
    """The currency cells a row may hold: blank, and every way of writing the board's currency
    (CLV_CURRENCY) that currency_code knows, as stripped text (the columnar reader compares these)."""
    board = currency_code(str(settings.CLV_CURRENCY))
    names = [name for name, code in _CURRENCY_NAMES.items() if code == board]
    return sorted({"", board, board.lower(), board.title(), *names, *(n.lower() for n in names)})


def row_currency_error(*, plan: ColumnPlan, values: list[str], line: int) -> RowError | None:
    """The error of a row whose currency cell names another currency than the board's: its
    amounts cannot be added to the others without a conversion, which the import does not do."""
    i = plan.indexes.get("currency")
    if i is None or i >= len(values) or not values[i].strip():
        return None
    board = currency_code(str(settings.CLV_CURRENCY))
    if currency_code(values[i]) == board:
        return None
    raw = values[i].strip()
    return RowError(line, plan.header[i], raw[:200], str(REASON_CURRENCY).format(currency=board),
                    [message_part(REASON_CURRENCY, currency=board)])


class OrderStatusRule:
    """The lines a transactions file's order status leaves out (row_not_revenue). In an export
    with its order's values on the first line only (Shopify's), the lines after a left-out
    order's first one, with no status of their own, go with it: the rule remembers that order."""

    def __init__(self, plan: ColumnPlan) -> None:
        self.plan = plan
        self._status = plan.indexes["order_status"]
        first_line = plan.profile is not None and plan.profile.first_line_totals
        self._order = plan.indexes.get("order_id") if first_line else None
        self._left_out: tuple[str, str] | None = None  # (order id, status) of the last line left out

    def left_out(self, values: list[str]) -> str | None:
        """The status for which the row is left out, or None."""
        status = row_not_revenue(plan=self.plan, values=values)
        if self._order is None:
            return status
        order = values[self._order].strip() if self._order < len(values) else ""
        own = values[self._status].strip() if self._status < len(values) else ""
        if status is None and not own and self._left_out is not None and order == self._left_out[0]:
            status = self._left_out[1]
        self._left_out = (order, status) if status is not None and order else None
        return status


def row_repeats_header(*, header: list[str], values: list[str]) -> bool:
    """The file's header again, as where exports are joined one after another (`cat jan.csv
    feb.csv`, a byte-order mark included): not a row of data, not an error, listed on the import."""
    if not values or not header or len(values) < len(header):
        return False
    first = values[0].strip().lstrip("\ufeff").strip()
    if first != header[0]:
        return False
    return (all(v.strip() == h for v, h in zip(values[1:len(header)], header[1:], strict=True))
            and not any(v.strip() for v in values[len(header):]))


_NOTE_TEXT = re.compile(r"[\s:：]")


def row_lone_cell(*, plan: ColumnPlan, values: list[str]) -> str | None:
    """The text of a transactions or costs row that has one filled cell only and reads as a title
    or a note (制表人：张三, "Printed 2024-04-01 10:00", 数据来源 金蝶): its text holds a space or a
    colon, or it stands in a column no field reads. Such a row cannot be a row of data (one needs
    a customer, a date and an amount; a cost a month, a kind and an amount): not read, not
    counted, not an error, and listed on the import. None for any other row: a lone code or
    number in a column that is read (a customer id, an amount) stays an error, as a row of data
    that lost its other values."""
    if plan.kind not in _DATE_FIELDS:
        return None
    filled = [(i, v.strip()) for i, v in enumerate(values) if v.strip()]
    if len(filled) != 1:
        return None
    column, text = filled[0]
    return text if _NOTE_TEXT.search(text) or column not in plan.indexes.values() else None


# The fields holding codes (ids), whose leading apostrophe before a digit or + is Excel's mark
# of text ('00123, '13800138000: kept so in a cell, not part of the code): see code_text.
CODE_FIELDS = frozenset({"customer_id", "order_id", "referred_by"})


def code_text(value: str) -> str:
    """A code without Excel's text mark: '00123 is 00123 (exports write phone numbers and codes
    with leading zeros so); an apostrophe before anything else stays."""
    return value[1:] if len(value) > 1 and value[0] == "'" and (value[1].isdigit() or value[1] == "+") else value


_EXCEL_TEXT = re.compile(r'^\s*="(.*)"\s*$', re.DOTALL)


def excel_text_unwrap(value: str) -> str:
    """A cell written as an Excel formula of text, ="00123" (exports write codes so, to keep
    their leading zeros and digits when the file is opened in Excel), as its text: 00123."""
    if '="' not in value:
        return value
    m = _EXCEL_TEXT.match(value)
    return m.group(1).replace('""', '"') if m else value


def row_is_blank(values: list[str]) -> bool:
    """A row of nothing but delimiters and spaces: skipped, not counted, not an error."""
    return not values or (not values[0].strip() and not any(v.strip() for v in values))


@dataclass
class SourceFile:
    """An opened source: its header and a stream of (line number, values) for the data rows."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str] = field(default_factory=list)
    header_line: int = 0
    # The header's line when title lines stand above it (header_find); 0: the first line.
    header_from: int = 0
    title_lines: list[str] = field(default_factory=list)  # the lines above the header, as text
    # Cells written ="00123" (Excel's way to keep a code's leading zeros), read as their text.
    excel_text: bool = False
    size: int = 0
    # For a Windows-1252 file: a word with an accented letter, for the reader to check.
    encoding_example: str = ""
    _counter: CountingReader | None = None

    @property
    def bytes_read(self) -> int:
        return self._counter.count if self._counter else 0

    @property
    def nul_seen(self) -> bool:
        """Whether a NUL byte has been read so far (the rows then need row_nul_error)."""
        return bool(self._counter and self._counter.nuls)

    def sample_lines(self) -> list[str]:
        with self.path.open("rb") as f:
            raw = f.read(SNIFF_BYTES)
        text = raw.decode(self.encoding, errors="ignore")
        lines = text.splitlines()
        return lines[:-1] if len(raw) == SNIFF_BYTES and len(lines) > 1 else lines

    def rows(self) -> Generator[tuple[int, list[str]], None, None]:
        """Data rows (blank rows skipped) with the file line each starts on; sets self.header."""
        raw = self.path.open("rb")
        self._counter = CountingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(self._counter, 1 << 20), encoding=self.encoding, newline="")
        line_no = 0
        try:
            if self.delimiter == WHITESPACE:
                source: Iterator[list[str]] = (line.split() for line in text)
                reader = None
            else:
                reader = csv.reader(text, delimiter=self.delimiter)
                source = reader
            header_seen = False
            while True:
                start = line_no + 1
                try:
                    values = next(source)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise refused(ERR_BAD_CSV, line=start, detail=exc) from exc
                except UnicodeDecodeError as exc:
                    raise refused(
                        ERR_DECODE, encoding=ENCODING_LABELS.get(self.encoding, self.encoding), line=start
                    ) from exc
                line_no = reader.line_num if reader is not None else line_no + 1
                if self.excel_text:
                    values = [excel_text_unwrap(v) for v in values]
                if row_is_blank(values):
                    continue
                if not header_seen and start < self.header_from:
                    continue  # a title line above the header
                if not header_seen:
                    header_seen = True
                    if values and values[0].startswith("\ufeff"):
                        values[0] = values[0][1:]
                    self.header = [v.strip() for v in values]
                    self.header_line = start
                    continue
                yield start, values
            if not header_seen:
                raise refused(ERR_EMPTY_FILE)
        finally:
            text.close()


# Excel's first line naming the delimiter (written by some exports, read by Excel itself).
_SEP_DIRECTIVE = re.compile(r"^\ufeff?\s*sep=([,;\t|])\s*$", re.IGNORECASE)

# Lines looked at for a header below title lines (a report's name, its date of export).
HEADER_SCAN_LINES = 20


def source_open(*, path: Path, encoding: str | None = None, delimiter: str | None = None,
                known: set[str] | None = None) -> SourceFile:
    """Detect what is not given and read the header row (without reading the whole file).
    With `known` (the normalised names the file's fields go by), a first line that names fewer
    than two of them while a line below names more is a title: the header is that line, and
    the lines above it are kept as `title_lines` (header_find)."""
    finding = EncodingFinding(encoding) if encoding else encoding_examine(path=path)
    source = SourceFile(path=path, encoding=finding.encoding, delimiter=delimiter or ",", size=path.stat().st_size,
                        encoding_example=finding.example)
    sample = source.sample_lines()
    directive = _SEP_DIRECTIVE.match(sample[0]) if sample else None
    if directive:
        # Excel's "sep=;" first line names the delimiter; the header is the line below it.
        source.header_from = 2
    if delimiter is None:
        source.delimiter = directive.group(1) if directive else delimiter_sniff(lines=sample)
    source.excel_text = any('="' in line for line in sample)
    if known:
        header_find(source, known)
    rows = source.rows()
    try:
        next(rows)
    except StopIteration:
        pass
    finally:
        rows.close()
    if not source.header:
        raise refused(ERR_EMPTY_FILE)
    return source


def _known_hits(values: list[str], known: set[str]) -> int:
    return len({form for v in values if v.strip() for form in header_forms(v.strip()) if form in known})


def header_find(source: SourceFile, known: set[str]) -> None:
    """Set `source.header_from` when title lines stand above the header: among the first
    HEADER_SCAN_LINES non-blank lines, the one naming the most distinct known names (two at
    least, and more than the first line names), the first of equals. The delimiter is sniffed
    again on the lines from there (a title line has none)."""
    scanned: list[tuple[int, list[str]]] = []
    rows = source.rows()
    try:
        for start, values in rows:
            if not scanned:  # the first line, taken for the header by rows()
                scanned.append((source.header_line, list(source.header)))
            scanned.append((start, values))
            if len(scanned) >= HEADER_SCAN_LINES:
                break
    except ImportRefused:
        return  # the rows' own error is raised when they are read
    finally:
        rows.close()
        source.header, source.header_line = [], 0
    if not scanned:
        return
    hits = [_known_hits(values, known) for _start, values in scanned]
    best = max(range(len(hits)), key=lambda i: (hits[i], -i))
    if best == 0 or hits[best] < 2 or hits[best] <= hits[0]:
        return
    header_start = scanned[best][0]
    lines = source.sample_lines()
    below = lines[header_start - 1:] if header_start - 1 < len(lines) else []
    if below:
        source.delimiter = delimiter_sniff(lines=below)
    source.header_from = header_start
    source.title_lines = [" ".join(v.strip() for v in values if v.strip()) for _start, values in scanned[:best]][:3]


# --- Columns ----------------------------------------------------------------------------------


@dataclass
class ColumnPlan:
    kind: str
    indexes: dict[str, int]  # field name -> column index
    header: list[str]
    unknown: list[str]
    # amount field -> (factor, unit as written) its column's name gives (金额(万元): 10000)
    scales: dict[str, tuple[int, str]] = field(default_factory=dict)
    profile: ExportProfile | None = None  # an export read by its own rules (EXPORT_PROFILES)
    # No amount column: each line's revenue is its quantity x unit price (rounded half up to cents).
    revenue_from_quantity: bool = False

    def column_label(self, field_name: str) -> str:
        return self.header[self.indexes[field_name]]

    def has(self, field_name: str) -> bool:
        return field_name in self.indexes


def mapping_parse(*, items: list[str] | str) -> dict[str, str]:
    """FIELD=COLUMN pairs, from --map options or from the page's mapping box (one per line)."""
    if isinstance(items, str):
        items = [line for line in re.split(r"[\r\n]+", items) if line.strip()]
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise refused(ERR_MAPPING_SYNTAX, text=item)
        mapping[name.strip().lower()] = column.strip()
    return mapping


def columns_resolve(*, kind: str, header: list[str], mapping: dict[str, str] | None = None) -> ColumnPlan:
    """Match the header to the fields of `kind`: hand mapping first, then the known names."""
    specs = FIELDS[kind]
    by_name = {s.name: s for s in specs}
    indexes: dict[str, int] = {}
    normalised = [_norm(h) for h in header]
    forms = [header_forms(h) for h in header]
    found = ", ".join(f'"{h}"' for h in header) or "-"
    for field_name, column in (mapping or {}).items():
        if field_name not in by_name:
            raise refused(
                ERR_MAPPING_UNKNOWN_FIELD, field_name=field_name, fields=", ".join(by_name)
            )
        if column.startswith("#") and column[1:].isdigit() and 0 < int(column[1:]) <= len(header):
            indexes[field_name] = int(column[1:]) - 1
        elif _norm(column) in normalised:
            indexes[field_name] = normalised.index(_norm(column))
        else:
            raise refused(
                ERR_MAPPING_UNKNOWN_COLUMN, field_name=field_name, column=column, found=found
            )
    profile = next((p for p in EXPORT_PROFILES.get(kind, ()) if p.signature <= set(normalised)), None)
    if profile is not None:
        for field_name, column in profile.columns.items():
            if field_name not in indexes and column in normalised and normalised.index(column) not in indexes.values():
                indexes[field_name] = normalised.index(column)
    taken = set(indexes.values())
    # The fields' own names first, for every field, as equals (two columns named by them are
    # refused); then, for a field still without a column, other systems' names (FALLBACK_NAMES)
    # in their order of preference (the amount paid before the total): only two columns of the
    # same name are refused.
    passes = [(spec, [set(spec.synonyms)]) for spec in specs]
    passes += [(spec, [{name} for name in FALLBACK_NAMES.get(spec.name, ())]) for spec in specs]
    for spec, tiers in passes:
        for names in tiers:
            if spec.name in indexes:
                break
            matches = [i for i, h in enumerate(forms) if h & names and i not in taken]
            if len(matches) > 1:
                raise refused(
                    ERR_DUPLICATE_COLUMN, first=f'"{header[matches[0]]}"', second=f'"{header[matches[1]]}"',
                    field=spec.label, field_name=spec.name,
                )
            if matches:
                indexes[spec.name] = matches[0]
                taken.add(matches[0])
    wide = [name for name in WIDE_COST_FIELDS if name in indexes] if kind == "costs" else []
    if wide:
        long = [name for name in ("kind", "amount") if name in indexes]
        if long:
            raise refused(ERR_COST_SHAPES_MIXED, long=", ".join(f'"{header[indexes[n]]}"' for n in long),
                          wide=", ".join(f'"{header[indexes[n]]}"' for n in wide))
    # Revenue as quantity x unit price: only in a transactions file without an amount column.
    from_quantity = kind == "transactions" and "revenue" not in indexes and {"quantity", "unit_price"} <= set(indexes)
    if kind == "transactions" and not from_quantity:
        for name in ("quantity", "unit_price"):
            indexes.pop(name, None)
    # A wide cost file has its kind and amount in the columns per kind.
    missing = [s for s in specs if s.required and s.name not in indexes and not (wide and s.name in ("kind", "amount"))
               and not (from_quantity and s.name == "revenue")]
    if missing:
        raise refused(
            ERR_MISSING_COLUMNS, missing=", ".join(f"{s.name} ({s.label})" for s in missing),
                found=found,
                needed=", ".join(f"{s.name} ({s.label})" for s in specs if s.required),
        )
    read_too = {profile.refunded} if profile is not None and profile.refunded else set()
    unknown = [h for i, h in enumerate(header) if i not in indexes.values() and normalised[i] not in read_too]
    scales = {name: scale for name in AMOUNT_FIELDS
              if name in indexes and (scale := amount_scale(header[indexes[name]])) is not None}
    return ColumnPlan(kind=kind, indexes=indexes, header=header, unknown=unknown, scales=scales, profile=profile,
                      revenue_from_quantity=from_quantity)


# --- Values -----------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR_FIRST = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR_LAST = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4})$")
_CHINESE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")
# A time of day after the date, dropped (the date is taken as written, whatever the zone):
# 14:23, 14:23:11.123, 2:15 PM, 下午2:15:00, then a zone: Z, UTC, +08:00, +0800. Shared with the
# columnar reader (RE2), so no look-around.
TIME_OF_DAY = (r"[ T]+(?:(?:上午|下午)\s*)?\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
               r"(?:\s*(?:[AaPp]\.?[Mm]\.?|上午|下午))?(?:\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?")
_TIME_SUFFIX = re.compile(f"(?:{TIME_OF_DAY})$")
# A day of the week after the date (or after its time), dropped like the time: 2024/1/5 星期五,
# 2024-01-06 周六, 2024-01-05（五）, 2024-01-05 Fri, 05/01/2024 (Friday). A bare 日 or 天 is
# not one: 2024年1月5日 ends the date itself.
_WEEKDAY_SUFFIX = re.compile(
    r"(?:\s+|(?<=\d)|(?<=日))(?:[(（]\s*(?:星期|周|礼拜)?[一二三四五六日天]\s*[)）]|(?:星期|周|礼拜)[一二三四五六日天]"
    r"|[(（]?(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?[)）]?)\s*$",
    re.IGNORECASE,
)
# Month names (English, any case, abbreviated or whole), as in 5-Mar-2024, 05 MAR 24,
# Mar 5, 2024 or Tue, 05 Mar 2024: the name settles which number is the day.
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAME = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
               r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*)?"
_NAMED_DAY_FIRST = re.compile(rf"^{_WEEKDAY}(\d{{1,2}})(?:st|nd|rd|th)?[\s./-]*{_MONTH_NAME}[\s./,-]*(\d{{4}}|\d{{2}})$",
                              re.IGNORECASE)
_NAMED_MONTH_FIRST = re.compile(rf"^{_WEEKDAY}{_MONTH_NAME}[\s./-]*(\d{{1,2}})(?:st|nd|rd|th)?,?[\s./-]*(\d{{4}})$",
                                re.IGNORECASE)
# A date column exported from Excel as its day numbers (General format): 45356 is 2024-03-05.
# Five digits only (from 1927-05-18; the years after 2100 are refused), a fraction being the
# time of day; read as Excel does, counting from 1899-12-30.
_EXCEL_SERIAL = re.compile(r"^(\d{5})(?:\.\d+)?$")
# A month without a day (a file of monthly totals per customer): 2024-03, 2024/3, 2024.03, 2024年3月.
# Read as the month's first day, and said so on the import.
_MONTH_ONLY = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _month_number(name: str) -> int:
    return _MONTH_NAMES.index(name[:3].lower()) + 1


def _year_of(text: str) -> int:
    """A four-digit year, or a two-digit one as strptime's %y reads it (69-99: 1900s)."""
    year = int(text)
    if len(text) == 2:
        year += 1900 if year >= 69 else 2000
    return year


class DateParser:
    """Dates in ISO, YYYY/M/D, YYYYMMDD, 2024年3月5日, D.M.YYYY (and M/D/YYYY when chosen), with
    an English month name (5-Mar-2024, Mar 5, 2024) or as Excel day numbers (45356), a time of
    day (and its zone) and a day of the week after the date (星期五, 周六, Fri) ignored.

    Year-last dates need a day/month order. Without a chosen order the parser reads them day
    first and notes the evidence; `order_problem` then says whether the file settles it."""

    def __init__(self, *, order: str | None = None) -> None:
        self.order = order
        self.evidence: dict[str, tuple[str, int]] = {}  # order -> first example (value, line)
        self.ambiguous: tuple[str, int] | None = None
        # The first Excel day number read as a date: (as written, the date, line), for a note.
        self.serial_example: tuple[str, str, int] | None = None
        # The last date accepted (ISO), for order dates: a later one is an error (REASON_DATE_FUTURE).
        self.latest: str | None = None
        # The first date that gives a month only (2024-03, 2024年3月), read as its first day: for a note.
        self.month_example: tuple[str, str, int] | None = None
        self._cache: dict[str, str] = {}
        # Added to the line numbers in the messages: a workbook's CSV line N is its sheet row N + offset.
        self.line_offset = 0

    def parse(self, raw: str, line: int) -> str:
        """The ISO date for `raw`; ValueError with the reason when it is not a date."""
        cached = self._cache.get(raw)
        if cached is not None:
            return cached
        value, cacheable = self._parse(raw, line)
        if self.latest is not None and value > self.latest:
            raise Reason(REASON_DATE_FUTURE, today=self.latest)  # never cached: the fast path cannot take it
        if cacheable and len(self._cache) < 200_000:
            self._cache[raw] = value
        return value

    def _parse(self, raw: str, line: int) -> tuple[str, bool]:
        text = raw.strip()
        if _ISO_DATE.match(text):
            return _iso(int(text[:4]), int(text[5:7]), int(text[8:10])), True
        for suffix in (_WEEKDAY_SUFFIX, _TIME_SUFFIX, _WEEKDAY_SUFFIX):  # 2024-01-05 星期五 14:30, or 14:30 周五
            m = suffix.search(text)
            if m and m.start() > 0:
                text = text[:m.start()]
        for pattern in (_YEAR_FIRST, _COMPACT, _CHINESE):
            m = pattern.match(text)
            if m:
                return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3))), True
        m = _NAMED_DAY_FIRST.match(text)
        if m:
            return _iso(_year_of(m.group(3)), _month_number(m.group(2)), int(m.group(1))), True
        m = _NAMED_MONTH_FIRST.match(text)
        if m:
            return _iso(int(m.group(3)), _month_number(m.group(1)), int(m.group(2))), True
        m = _MONTH_ONLY.match(text)
        if m:
            value = _iso(int(m.group(1)), int(m.group(2)), 1)
            if self.month_example is None:
                self.month_example = (raw.strip(), value, line)
            return value, True
        m = _EXCEL_SERIAL.match(text)
        if m:
            day = _EXCEL_EPOCH + dt.timedelta(days=int(m.group(1)))
            if not 1900 <= day.year <= 2100:
                raise Reason(REASON_DATE_RANGE)
            value = day.isoformat()
            if self.serial_example is None:
                self.serial_example = (raw.strip(), value, line)
            return value, True
        m = _YEAR_LAST.match(text)
        if not m:
            raise Reason(REASON_DATE)
        a, b, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
        if self.order == DAY_FIRST:
            return _iso(year, b, a, order=DAY_FIRST), True
        if self.order == MONTH_FIRST:
            return _iso(year, a, b, order=MONTH_FIRST), True
        # No order chosen: collect the evidence, read day first for now (not cached: the
        # evidence must see every distinct value).
        if a > 12 and b <= 12:
            self.evidence.setdefault(DAY_FIRST, (raw, line))
        elif b > 12 and a <= 12:
            self.evidence.setdefault(MONTH_FIRST, (raw, line))
            return _iso(year, a, b), False
        elif a != b and self.ambiguous is None:
            self.ambiguous = (raw, line)
        return _iso(year, b, a), True

    def order_problem(self) -> tuple[str | None, str | None]:
        """(order the file needs, refusal message): (None, None) when the reading stands."""
        if self.order is not None:
            return None, None
        if DAY_FIRST in self.evidence and MONTH_FIRST in self.evidence:
            (d_val, d_line), (m_val, m_line) = self.evidence[DAY_FIRST], self.evidence[MONTH_FIRST]
            return None, str(ERR_DATE_ORDER_MIXED).format(
                dmy_example=d_val, dmy_line=d_line + self.line_offset, mdy_example=m_val,
                mdy_line=m_line + self.line_offset
            )
        if MONTH_FIRST in self.evidence:
            return MONTH_FIRST, None
        if DAY_FIRST not in self.evidence and self.ambiguous is not None:
            return None, str(ERR_DATE_ORDER_AMBIGUOUS).format(example=self.ambiguous[0],
                                                              line=self.ambiguous[1] + self.line_offset)
        return None, None


def _iso(year: int, month: int, day: int, *, order: str | None = None) -> str:
    try:
        value = dt.date(year, month, day)
    except ValueError:
        if order:
            raise Reason(REASON_DATE_ORDER, order=_order_label(order)) from None
        raise Reason(REASON_DATE) from None
    if not 1900 <= year <= 2100:
        raise Reason(REASON_DATE_RANGE)
    return value.isoformat()


def _order_label(order: str) -> str:
    return str(_("day/month")) if order == DAY_FIRST else str(_("month/day"))


# ASCII digits only: a full-width "１２.５０" is not plain; NFKC below turns it into 12.50.
_PLAIN_AMOUNT = re.compile(r"^-?\d{1,16}(?:\.\d{1,2})?$", re.ASCII)
# Currency signs and codes before or after the number: ¥ (￥ after NFKC), CN¥, RMB¥, JP¥, $ and
# US$ HK$ NT$ S$ A$ C$ CA$ AU$, € £ ₩ ₹, the ISO codes of the currencies met in Chinese and
# Asian trade, and their Chinese names (人民币 美元 港元 港币 日元 欧元 英镑 台币; 元 alone).
_CURRENCY_CODES = "cny|rmb|usd|eur|hkd|gbp|jpy|twd|sgd|krw|aud|cad|chf|inr|myr|thb|mop|nzd"
_CURRENCY_WORDS = "人民币|美元|港元|港币|日元|欧元|英镑|新台币|台币"
_CURRENCY = re.compile(
    rf"^(?:(?:cn|jp|rmb)?¥|[a-z]{{0,3}}\$|[€£₩₹]|{_CURRENCY_CODES}|{_CURRENCY_WORDS})"
    rf"|(?:{_CURRENCY_WORDS}|元|{_CURRENCY_CODES})$",
    re.IGNORECASE,
)
_THOUSANDS_COMMA = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(?:\.\d{3}){2,}$")
_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$")
_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")
_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?e[+-]?\d{1,3}$", re.IGNORECASE)
_ACCOUNTING_ZERO = re.compile(r"^[-–—]$")
_CENT = Decimal("0.01")
_LIMIT = Decimal("1e16")


def amount_parse(raw: str, scale: int = 1) -> str:
    """A plain decimal string with at most 2 decimals; ValueError with the reason otherwise.

    Accepts currency signs, codes and names (¥ ￥ CN¥ $ US$ € £ 元 美元 CNY RMB USD ...), thousands separators
    (1,234.50 1.234,50 1 234,50 1'234.50), a leading or trailing minus, accounting negatives
    (12.50) and zeros (a lone dash, "$ -"), and 万 or 亿 after the number (1.5万 is 15000). Multiplied by `scale`
    (the column's, see amount_scale), then rounded half up to cents."""
    text = raw.strip()
    if scale == 1 and _PLAIN_AMOUNT.match(text):
        return text
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip()
    if _ACCOUNTING_ZERO.match(_CURRENCY.sub("", text).strip()):
        return "0.00"  # Excel's accounting format shows a zero as a dash: "-", "$ -", "¥ -  "
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    for _round in range(3):
        stripped = _CURRENCY.sub("", text).strip()
        if stripped.startswith(("-", "+")):
            negative ^= stripped[0] == "-"
            stripped = stripped[1:].strip()
        elif stripped.endswith("-"):
            negative, stripped = not negative, stripped[:-1].strip()
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"[\s'\u00a0\u202f\u2009]", "", text)
    if text.endswith(("万", "亿")) and len(text) > 1:
        scale *= 10**4 if text[-1] == "万" else 10**8
        text = text[:-1]
    if "," in text and "." in text:
        text = text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") else text.replace(",", "")
    elif "," in text:
        if _THOUSANDS_COMMA.match(text):
            text = text.replace(",", "")
        elif _DECIMAL_COMMA.match(text):
            text = text.replace(",", ".")
        else:
            raise Reason(REASON_AMOUNT)
    elif _THOUSANDS_DOT.match(text):
        text = text.replace(".", "")
    if not _DIGITS.match(text):
        raise Reason(REASON_AMOUNT_SCIENTIFIC if _SCIENTIFIC.match(text) else REASON_AMOUNT)
    try:
        value = (Decimal(text) * scale).quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise Reason(REASON_AMOUNT) from None
    if value >= _LIMIT:
        raise Reason(REASON_AMOUNT_RANGE)
    return str(-value if negative else value)


_QUANTITY = re.compile(r"^-?\d{1,12}(?:\.\d{1,6})?$")


def quantity_parse(raw: str) -> Decimal:
    """A line's quantity: 2, 2.5, 1,200, -1 (a return), full-width digits; ValueError otherwise."""
    text = unicodedata.normalize("NFKC", raw).replace("\u2212", "-").strip()
    if _THOUSANDS_COMMA.match(text.lstrip("-").split(".")[0]):
        text = text.replace(",", "")
    if not _QUANTITY.match(text):
        raise Reason(REASON_QUANTITY)
    return Decimal(text)


_MONTH_YEAR_FIRST = re.compile(r"^(\d{4})\s*(?:[-/.]|年)?\s*(\d{1,2})\s*月?$")
_MONTH_YEAR_LAST = re.compile(r"^(\d{1,2})[-/.](\d{4})$")
# Mar-24, March 2024, MAR.2024 (Excel's month formats), 2024-Mar.
_MONTH_NAMED = re.compile(rf"^{_MONTH_NAME}[\s./,-]*(\d{{4}}|\d{{2}})$", re.IGNORECASE)
_MONTH_NAMED_YEAR_FIRST = re.compile(rf"^(\d{{4}})[\s./-]*{_MONTH_NAME}$", re.IGNORECASE)


def month_parse(raw: str, line: int, dates: DateParser) -> str:
    """The first day of the month, ISO: 2024-03, 2024/3, 202403, 2024年3月, 3/2024, Mar-24,
    March 2024, or any date."""
    text = raw.strip()
    m = _MONTH_YEAR_FIRST.match(text)
    if m and not 1900 <= int(m.group(1)) <= 2100 and _EXCEL_SERIAL.match(text):
        m = None  # 45356: an Excel day number (read as a date below), not the year 4535
    if m and len(text) != 8:
        year, month = int(m.group(1)), int(m.group(2))
    else:
        m = _MONTH_YEAR_LAST.match(text)
        if m:
            year, month = int(m.group(2)), int(m.group(1))
        elif named := _MONTH_NAMED.match(text):
            year, month = _year_of(named.group(2)), _month_number(named.group(1))
        elif named := _MONTH_NAMED_YEAR_FIRST.match(text):
            year, month = int(named.group(1)), _month_number(named.group(2))
        else:
            try:
                day = dt.date.fromisoformat(dates.parse(text, line))
            except ValueError:
                raise Reason(REASON_MONTH) from None
            year, month = day.year, day.month
    if not 1 <= month <= 12:
        raise Reason(REASON_MONTH)
    if not 1900 <= year <= 2100:
        raise Reason(REASON_DATE_RANGE)
    return dt.date(year, month, 1).isoformat()


# --- Rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    value: str
    reason: str
    # The reason as template + values (clv_dashboard.messages), for readers of other languages.
    parts: list[dict[str, Any]] = field(default_factory=list, compare=False)

    def as_dict(self) -> dict[str, Any]:
        row = {"line": self.line, "column": self.column, "value": self.value, "reason": self.reason}
        if self.parts:
            row["parts"] = self.parts
        return row


# A row's normalised values (a list of them for a wide cost row: one per kind), or None, and its errors.
Validated = tuple[tuple[Any, ...] | list[tuple[Any, ...]] | None, list[RowError]]


def row_nul_error(*, plan: ColumnPlan, line: int, values: list[str]) -> RowError | None:
    """The error for a row whose values hold a NUL byte (PostgreSQL cannot store one in text)."""
    for index, value in enumerate(values):
        if "\x00" in value:
            column = plan.header[index] if index < len(plan.header) else f"#{index + 1}"
            return RowError(line, column, value.replace("\x00", "\\0")[:200], str(REASON_NUL), [message_part(REASON_NUL)])
    return None
_ATTRIBUTE_NAMES = ("name", "region", "product_line", "business_unit", "acquisition_channel", "referred_by")

# Columns of the normalised rows each kind produces (the staging table's columns, in order).
STAGED_COLUMNS: dict[str, tuple[str, ...]] = {
    "transactions": (
        "line", "customer_ext", "order_id", "order_date", "revenue", "cost", "name",
        "region", "product_line", "business_unit", "acquisition_channel", "referred_by",
    ),
    "customers": ("line", "customer_ext", "name", "region", "product_line", "business_unit", "acquisition_channel",
                  "referred_by"),
    "costs": ("line", "month", "kind", "amount", "segment_dimension", "segment_value"),
}


def _first_line_totals(validate: Callable[[int, list[str]], Validated], *, order: int, inherited: tuple[int, ...],
                       amounts: tuple[int, ...], refund: tuple[int, int] | None,
                       header: list[str]) -> Callable[[int, list[str]], Validated]:
    """`validate` for an export that gives an order's own values on its first line only
    (ExportProfile.first_line_totals): a line of the same order as the line before takes that
    line's customer and date where its own are blank, and 0 where its amounts are blank (the
    order's lines are summed). With `refund` (its column, the revenue's), a line's refunded
    amount is taken off its revenue. Rows must come in the file's order (the row reader)."""
    last: list[str] = []

    def validate_line(line: int, values: list[str]) -> Validated:
        nonlocal last
        if (last and order < len(values) and values[order].strip()
                and values[order].strip() == last[order].strip()):
            values = list(values) + [""] * max(0, len(last) - len(values))
            for i in inherited:
                if not values[i].strip():
                    values[i] = last[i]
            for i in amounts:
                if not values[i].strip():
                    values[i] = "0"
        last = values
        if refund is not None and refund[0] < len(values) and values[refund[0]].strip() and values[refund[1]].strip():
            column, revenue = refund
            try:
                refunded = Decimal(amount_parse(values[column]))
            except ValueError as exc:
                return None, [RowError(line, header[column], values[column].strip(), str(exc), getattr(exc, "parts", []))]
            if refunded:
                try:
                    net = Decimal(amount_parse(values[revenue])) - refunded
                except ValueError:
                    pass  # the revenue's own error is reported by validate
                else:
                    values = [*values[:revenue], str(net), *values[revenue + 1:]]
        return validate(line, values)

    return validate_line


def row_validator(
    *, plan: ColumnPlan, dates: DateParser, marks: CurrencyMarks | None = None
) -> Callable[[int, list[str]], Validated]:
    """A function that checks one row and returns its normalised values (in STAGED_COLUMNS order)
    or the errors that name the line, the column, the value and the reason. Amounts written
    with another currency's sign go on `marks`."""
    specs = {s.name: s for s in FIELDS[plan.kind]}
    first_lines: dict[str, Any] = {}  # the rule of an export with its order's values on the first line
    width = len(plan.header)
    idx = plan.indexes
    labels = {name: plan.header[i] for name, i in idx.items()}

    def text(values: list[str], name: str, errors: list[RowError], line: int) -> str:
        i = idx.get(name)
        value = "" if i is None or i >= len(values) else values[i].strip()
        if name in CODE_FIELDS:
            value = code_text(value)
        spec = specs[name]
        if not value:
            if spec.required:
                errors.append(RowError(line, labels.get(name, name), "", str(REASON_REQUIRED), [message_part(REASON_REQUIRED)]))
            return ""
        if len(value) > spec.max_length:
            errors.append(RowError(line, labels[name], value[:200], str(REASON_TOO_LONG).format(limit=spec.max_length), [message_part(REASON_TOO_LONG, limit=spec.max_length)]))
        return value

    def check_width(values: list[str], line: int, errors: list[RowError]) -> None:
        if len(values) > width and any(v.strip() for v in values[width:]):
            errors.append(
                RowError(line, "", "", str(REASON_EXTRA_FIELDS).format(count=len(values), expected=width), [message_part(REASON_EXTRA_FIELDS, count=len(values), expected=width)])
            )

    scales = {name: factor for name, (factor, _unit) in plan.scales.items()}

    def amount(value: str, name: str, line: int, errors: list[RowError]) -> str:
        if not value:
            return ""
        try:
            parsed = amount_parse(value, scales.get(name, 1))
        except ValueError as exc:
            errors.append(RowError(line, labels[name], value, str(exc), getattr(exc, "parts", [])))
            return ""
        if marks is not None and parsed != value:  # a plain amount is returned as it is: no sign
            marks.record(value, line)
        return parsed

    has_cost = "cost" in idx

    def line_revenue(values: list[str], line: int, errors: list[RowError]) -> str:
        """Quantity x unit price, rounded half up to cents (a negative quantity is a return)."""
        quantity_text, price_text = text(values, "quantity", errors, line), text(values, "unit_price", errors, line)
        for name, given in (("quantity", quantity_text), ("unit_price", price_text)):
            if not given:
                errors.append(RowError(line, labels[name], "", str(REASON_REQUIRED), [message_part(REASON_REQUIRED)]))
        price = amount(price_text, "unit_price", line, errors)
        if not quantity_text or not price:
            return ""
        try:
            quantity = quantity_parse(quantity_text)
        except ValueError as exc:
            errors.append(RowError(line, labels["quantity"], quantity_text, str(exc), getattr(exc, "parts", [])))
            return ""
        value = (quantity * Decimal(price)).quantize(_CENT, rounding=ROUND_HALF_UP)
        if abs(value) >= _LIMIT:
            errors.append(RowError(line, labels["unit_price"], values[idx["unit_price"]].strip(),
                                   str(REASON_AMOUNT_RANGE), [message_part(REASON_AMOUNT_RANGE)]))
            return ""
        return str(value)

    i_currency = idx.get("currency")
    accepted_currencies = frozenset(currencies_accepted())

    def currency_check(values: list[str], line: int, errors: list[RowError]) -> None:
        error = row_currency_error(plan=plan, values=values, line=line) if i_currency is not None else None
        if error is not None:
            errors.append(error)

    if plan.kind == "transactions":
        # Without an amount column (revenue from quantity x unit price) every row takes the slow path.
        i_customer, i_date, i_revenue = idx["customer_id"], idx["order_date"], idx.get("revenue", -1)
        i_order, i_cost = idx.get("order_id"), idx.get("cost")
        attr_slots = [(idx[n], specs[n].max_length) if n in idx else None for n in _ATTRIBUTE_NAMES]
        date_cache = dates._cache
        # A scaled amount column takes the slow path, which multiplies.
        plain = _PLAIN_AMOUNT.match if not scales else (lambda _text: None)
        no_errors: list[RowError] = []

        def validate(line: int, values: list[str]) -> Validated:
            # Fast path for the common row: the right width, plain amounts, a date seen before.
            if len(values) == width and i_revenue >= 0:
                customer = values[i_customer].strip()
                order_id = values[i_order].strip() if i_order is not None else ""
                order_date = date_cache.get(values[i_date].strip())
                revenue = values[i_revenue].strip()
                cost = values[i_cost].strip() if i_cost is not None else ""
                if (customer and order_date and len(customer) <= 100 and len(order_id) <= 100 and plain(revenue)
                        and (not cost or plain(cost)) and customer[0] != "'" and order_id[:1] != "'"
                        and (i_currency is None or values[i_currency].strip() in accepted_currencies)):
                    attrs = []
                    for slot in attr_slots:
                        if slot is None:
                            attrs.append("")
                        else:
                            value = values[slot[0]].strip()
                            if len(value) > slot[1] or value[:1] == "'":  # a referrer's code: the slow path
                                break
                            attrs.append(value)
                    else:
                        return (line, customer, order_id, order_date, revenue, cost, *attrs), no_errors
            return validate_slow(line, values)

        def validate_slow(line: int, values: list[str]) -> Validated:
            errors: list[RowError] = []
            check_width(values, line, errors)
            customer = text(values, "customer_id", errors, line)
            order_id = text(values, "order_id", errors, line)
            raw_date = text(values, "order_date", errors, line)
            order_date = ""
            if raw_date:
                try:
                    order_date = dates.parse(raw_date, line)
                except ValueError as exc:
                    errors.append(RowError(line, labels["order_date"], raw_date, str(exc), getattr(exc, "parts", [])))
            if plan.revenue_from_quantity:
                revenue = line_revenue(values, line, errors)
            else:
                revenue = amount(text(values, "revenue", errors, line), "revenue", line, errors)
            cost = amount(text(values, "cost", errors, line), "cost", line, errors) if has_cost else ""
            currency_check(values, line, errors)
            attrs = [text(values, n, errors, line) if n in idx else "" for n in _ATTRIBUTE_NAMES]
            if errors:
                return None, errors
            return (line, customer, order_id, order_date, revenue, cost, *attrs), errors

        if plan.profile is not None and plan.profile.first_line_totals and i_order is not None:
            normalised = [_norm(h) for h in plan.header]
            refunded = plan.profile.refunded
            first_lines = {"order": i_order, "inherited": (i_customer, i_date),
                           "amounts": (i_revenue, *((i_cost,) if i_cost is not None else ())),
                           "refund": (normalised.index(refunded), i_revenue) if refunded in normalised else None}

    elif plan.kind == "customers":

        def validate(line: int, values: list[str]) -> Validated:
            errors: list[RowError] = []
            check_width(values, line, errors)
            customer = text(values, "customer_id", errors, line)
            attrs = [text(values, n, errors, line) if n in idx else "" for n in _ATTRIBUTE_NAMES]
            if errors:
                return None, errors
            return (line, customer, *attrs), errors

    else:
        named_segments = [(name, dim) for name, dim in COST_SEGMENT_COLUMNS.items() if name in idx]
        wide = [(name, kind) for name, kind in WIDE_COST_FIELDS.items() if name in idx]

        def cost_amount(values: list[str], name: str, line: int, errors: list[RowError]) -> str:
            value = amount(text(values, name, errors, line), name, line, errors)
            if value.startswith("-"):
                errors.append(RowError(line, labels[name], values[idx[name]].strip(), str(REASON_COST_NEGATIVE),
                                       [message_part(REASON_COST_NEGATIVE)]))
            return value

        def cost_amounts(values: list[str], line: int, errors: list[RowError]) -> list[tuple[str, str]]:
            """A wide row's entries: (kind, amount) for each column per kind that holds one."""
            filled = [(name, kind) for name, kind in wide if idx[name] < len(values) and values[idx[name]].strip()]
            if not filled:
                errors.append(RowError(line, labels[wide[0][0]], "", str(REASON_COST_NO_AMOUNT),
                                       [message_part(REASON_COST_NO_AMOUNT)]))
            return [(kind, cost_amount(values, name, line, errors)) for name, kind in filled]

        def validate(line: int, values: list[str]) -> Validated:
            errors: list[RowError] = []
            check_width(values, line, errors)
            raw_month = text(values, "month", errors, line)
            month = ""
            if raw_month:
                try:
                    month = month_parse(raw_month, line, dates)
                except ValueError as exc:
                    errors.append(RowError(line, labels["month"], raw_month, str(exc), getattr(exc, "parts", [])))
            currency_check(values, line, errors)
            if wide:
                amounts = cost_amounts(values, line, errors)
            else:
                raw_kind = text(values, "kind", errors, line)
                kind = _COST_KIND_LOOKUP.get(_norm(raw_kind), "") if raw_kind else ""
                if raw_kind and not kind:
                    errors.append(RowError(line, labels["kind"], raw_kind, str(REASON_COST_KIND), [message_part(REASON_COST_KIND)]))
                amounts = [(kind, cost_amount(values, "amount", line, errors))]
            raw_dim = text(values, "segment_dimension", errors, line)
            segment_value = text(values, "segment_value", errors, line)
            dimension = _DIMENSION_LOOKUP.get(_norm(raw_dim), "") if raw_dim else ""
            first_column = labels.get("segment_dimension", "") if raw_dim else ""
            for name, named_dimension in named_segments:
                named_value = text(values, name, errors, line)
                if not named_value:
                    continue
                if first_column:
                    errors.append(RowError(line, labels[name], named_value,
                                           str(REASON_SEGMENT_TWICE).format(other=first_column),
                                           [message_part(REASON_SEGMENT_TWICE, other=first_column)]))
                    continue
                raw_dim, dimension, segment_value, first_column = named_dimension, named_dimension, named_value, labels[name]
            if raw_dim and not dimension:
                errors.append(RowError(line, labels["segment_dimension"], raw_dim, str(REASON_DIMENSION), [message_part(REASON_DIMENSION)]))
            elif dimension and not segment_value:
                errors.append(RowError(line, labels.get("segment_value", "segment_value"), "",
                                       str(REASON_DIMENSION_WITHOUT_VALUE), [message_part(REASON_DIMENSION_WITHOUT_VALUE)]))
            elif segment_value and not raw_dim:
                errors.append(RowError(line, labels["segment_value"], segment_value,
                                       str(REASON_VALUE_WITHOUT_DIMENSION), [message_part(REASON_VALUE_WITHOUT_DIMENSION)]))
            if errors:
                return None, errors
            rows = [(line, month, kind, value, dimension, segment_value) for kind, value in amounts]
            return (rows if wide else rows[0]), errors

    return _first_line_totals(validate, header=plan.header, **first_lines) if first_lines else validate
