"""Write the project's own policy corpus (tests/policy/corpus/): invented apps, one SDK-list layout per file.

Every policy here is written for this project (no text from real policies). Each `NN.<ext>` has `NN.json` with the
labels, in the conventions of ../shared/policies/README.md: one entry per SDK row in source order with its name,
company (or null) and PI items as written. Run `python tests/policy/make_corpus.py` to regenerate; the files are
committed so a test never depends on this script's randomness.
"""

from __future__ import annotations

import html
import json
import random
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"

# (name, company, purpose, PI items) — a made-up but plausible pool of SDK rows.
POOL: list[tuple[str, str | None, str, list[str]]] = [
    ("友盟统计SDK", "友盟同欣（北京）科技有限公司", "统计应用的使用情况和崩溃", ["设备标识符（IMEI、Android ID、OAID）", "MAC地址", "应用列表", "位置信息"]),
    ("极光推送SDK", "深圳市和讯华谷信息技术有限公司", "向您推送消息通知", ["设备信息", "网络信息", "应用列表（可选）"]),
    ("个推推送SDK", "每日互动股份有限公司", "消息推送", ["IMEI", "IMSI", "Android ID", "MAC地址", "运营商信息"]),
    ("高德定位SDK", "高德软件有限公司", "为您提供附近门店的定位服务", ["位置信息（经纬度）", "WiFi信息", "基站信息", "设备标识符"]),
    ("百度地图SDK", "北京百度网讯科技有限公司", "地图展示与路线规划", ["位置信息", "设备型号", "IP地址"]),
    ("腾讯Bugly", "深圳市腾讯计算机系统有限公司", "收集崩溃日志以修复问题", ["设备型号", "系统版本", "Android ID", "崩溃日志"]),
    ("微信开放平台SDK", "深圳市腾讯计算机系统有限公司", "微信登录与分享", ["设备标识符", "网络信息"]),
    ("QQ互联SDK", "深圳市腾讯计算机系统有限公司", "QQ登录与分享", ["设备标识符", "IP地址"]),
    ("支付宝SDK", "支付宝（中国）网络技术有限公司", "支付宝支付", ["设备标识符", "网络信息", "运营商信息", "Wi-Fi地址"]),
    ("银联手机支付控件", "中国银联股份有限公司", "银联卡支付", ["设备信息", "位置信息"]),
    ("穿山甲广告SDK", "北京巨量引擎网络技术有限公司", "展示广告", ["OAID", "Android ID", "应用列表", "位置信息", "传感器信息"]),
    ("优量汇广告SDK", "深圳市腾讯计算机系统有限公司", "展示广告并统计效果", ["设备标识符（IMEI、OAID）", "已安装应用列表", "网络类型"]),
    ("快手联盟SDK", "北京快手广告有限公司", "广告投放", ["设备信息", "应用列表", "粗略位置"]),
    ("阿里云号码认证SDK", "阿里云计算有限公司", "本机号码一键登录", ["手机号码", "运营商信息", "网络类型"]),
    ("中国移动认证SDK", "中移互联网有限公司", "一键登录", ["手机号码", "IP地址", "网络类型", "IMSI"]),
    ("小米推送SDK", "北京小米移动软件有限公司", "在小米手机上推送消息", ["设备标识符（OAID）", "网络状态"]),
    ("华为推送SDK", "华为软件技术有限公司", "在华为手机上推送消息", ["应用标识信息", "设备标识符"]),
    ("OPPO推送SDK", "广东欢太科技有限公司", "在OPPO手机上推送消息", ["设备标识信息", "网络信息"]),
    ("vivo推送SDK", "维沃移动通信有限公司", "在vivo手机上推送消息", ["设备标识信息"]),
    ("魅族推送SDK", "珠海市魅族通讯设备有限公司", "在魅族手机上推送消息", ["设备标识信息", "MAC地址"]),
    ("新浪微博SDK", "北京微梦创科网络技术有限公司", "分享至微博", ["设备标识符", "剪切板信息"]),
    ("讯飞语音SDK", "科大讯飞股份有限公司", "语音输入", ["录音", "设备标识符"]),
    ("声网RTC SDK", "上海兆言网络科技有限公司", "音视频通话", ["麦克风", "摄像头", "网络信息"]),
    ("融云IM SDK", "北京云中融信网络科技有限公司", "即时通讯", ["设备型号", "网络状态", "IP地址"]),
    ("网易易盾SDK", "杭州网易智企科技有限公司", "风险控制与反作弊", ["设备标识符", "传感器信息", "应用列表"]),
    ("数美SDK", "北京数美时代科技有限公司", "反欺诈", ["设备信息", "运营商信息", "正在运行的进程"]),
    ("神策分析SDK", "神策网络科技（北京）有限公司", "用户行为分析", ["设备型号", "操作系统", "IP地址", "浏览记录"]),
    ("GrowingIO SDK", "北京易数科技有限公司", "无埋点统计", ["设备标识符", "操作记录"]),
    ("腾讯浏览服务TBS", "深圳市腾讯计算机系统有限公司", "网页浏览", ["设备型号", "网络类型"]),
    ("Glide", None, "图片加载", []),
    ("OkHttp", None, "网络请求", []),
    ("Firebase Crashlytics", "Google LLC", "crash reporting", ["Android ID", "device model", "crash logs"]),
    ("AppsFlyer SDK", "AppsFlyer Ltd.", "install attribution", ["Google Advertising ID", "IP address", "device model"]),
    ("Facebook SDK", "Meta Platforms, Inc.", "Facebook login and sharing", ["advertising ID", "device information"]),
    ("Google Maps SDK", "Google LLC", "maps", ["precise location", "IP address"]),
    ("美洽客服SDK", "北京美洽网络科技有限公司", "在线客服", ["设备型号", "网络信息", "相册"]),
    ("七牛云存储SDK", "上海七牛信息技术有限公司", "上传图片", ["设备型号", "网络类型"]),
    ("乐播投屏SDK", "深圳乐播科技有限公司", "投屏播放", ["WiFi信息", "设备名称", "IP地址"]),
    ("Sigmob广告SDK", "创智汇聚（北京）科技有限公司", "广告展示", ["OAID", "IMEI", "应用列表", "基站信息"]),
    ("同盾设备指纹SDK", "同盾科技有限公司", "设备风险识别", ["设备标识符", "SIM卡信息", "通讯录"]),
    ("美团Robust热修复", "北京三快在线科技有限公司", "线上问题修复", []),
]

APP_PI_PROSE = ("我们会收集您的手机号码用于注册账号；在您使用附近门店功能时，我们会获取您的位置信息；"
                "为保障账号安全，我们会读取您的设备标识符（IMEI、Android ID）与剪切板内容中的邀请码。")


def pick(rng: random.Random, count: int) -> list[tuple[str, str | None, str, list[str]]]:
    rows = list(POOL)
    rng.shuffle(rows)
    while len(rows) < count:  # some lists name an SDK twice (two packages of one vendor)
        rows.append(rng.choice(POOL))
    return rows[:count]


def label(rows, *, with_company: bool = True, layout: str = "") -> dict:
    return {"layout": layout, "sdks": [{"name": name, "company": company if with_company else None, "pi": list(pi)}
                                       for name, company, _, pi in rows]}


def intro(app: str) -> str:
    return (f"{app}隐私政策\n更新日期：2026年1月1日\n\n一、我们如何收集和使用您的个人信息\n{APP_PI_PROSE}\n\n"
            f"二、第三方SDK目录\n为实现相关功能，{app}接入了以下第三方SDK。我们会对合作方获取信息的SDK进行严格的安全监测。\n")


def outro() -> str:
    return "\n三、我们如何保护您的个人信息\n我们采取加密、访问控制等措施保护您的个人信息。\n四、联系我们\n如有疑问，请发送邮件至 privacy@example.com。\n"


def pi_text(items: list[str], sep: str = "、") -> str:
    return sep.join(items) if items else "无"


def write(number: int, ext: str, text: str | bytes, labels: dict) -> None:
    path = CORPUS / f"{number:02d}.{ext}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    (CORPUS / f"{number:02d}.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def html_table(rows, headers: list[str], cells) -> str:  # type: ignore[no-untyped-def]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in cells(row)) + "</tr>\n" for row in rows)
    return f"<table border=1><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    rng = random.Random(22)

    # 01 HTML table, UTF-8
    rows = pick(rng, 12)
    table = html_table(rows, ["SDK名称", "第三方公司名称", "使用目的", "收集个人信息类型", "隐私政策链接"],
                       lambda r: [html.escape(r[0]), html.escape(r[1] or ""), r[2], pi_text(r[3]), "<a href='https://example.com/p'>查看</a>"])
    write(1, "html", f"<html><head><meta charset='utf-8'><title>隐私政策</title></head><body><h1>甲乙记账隐私政策</h1><p>{APP_PI_PROSE}</p>"
                     f"<h2>第三方SDK清单</h2>{table}<p>我们会定期更新本清单。</p></body></html>", label(rows, layout="html table"))

    # 02 HTML table, GBK, 35 rows, merged first column (rowspan)
    rows = pick(rng, 35)
    body = []
    for index, row in enumerate(rows):
        group = f"<td rowspan=5>{['工具类', '统计类', '广告类', '推送类', '登录分享类', '支付类', '其他'][index // 5]}</td>" if index % 5 == 0 else ""
        body.append(f"<tr>{group}<td>{row[0]}</td><td>{row[2]}</td><td>{pi_text(row[3])}</td><td>{row[1] or ''}</td></tr>")
    page = ("<html><head><meta http-equiv='Content-Type' content='text/html; charset=gbk'></head><body>"
            f"<p>丙丁阅读隐私政策</p><p>{APP_PI_PROSE}</p><p>第三方SDK目录</p><table><tr><th>功能类型</th><th>SDK名称</th><th>使用目的</th>"
            f"<th>个人信息字段</th><th>第三方机构名称</th></tr>{''.join(body)}</table></body></html>")
    write(2, "html", page.encode("gbk"), label(rows, layout="html table, GBK, rowspan group column"))

    # 03 flattened table, one cell per line, numbered, no company column, 30 rows
    rows = pick(rng, 30)
    lines = ["序号", "SDK名称", "使用目的", "数据类型", "隐私政策/官网地址", "", ""]
    for index, row in enumerate(rows, 1):
        lines += [str(index), row[0], " " + row[2], " " + pi_text(row[3]), "https://example.com/sdk/" + str(index), "", ""]
    write(3, "txt", intro("戊己小说") + "\n".join(lines) + outro(), label(rows, with_company=False, layout="flattened, numbered"))

    # 04 flattened table with a merged group column and company, 20 rows
    rows = pick(rng, 20)
    lines = ["功能类型", "第三方SDK名称", "使用场景", "个人信息字段", "第三方机构名称", "第三方链接", ""]
    for index, row in enumerate(rows):
        if index % 4 == 0:
            lines.append(["地图类", "统计类", "信息分享", "推送通知消息", "第三方支付类"][index // 4])
        lines += [row[0], row[2], pi_text(row[3]), row[1] or "", "", "官网链接:https://example.com/" + str(index), ""]
    labels = label(rows, layout="flattened, merged group column")
    for entry, row in zip(labels["sdks"], rows):
        entry["company"] = row[1]
    write(4, "txt", intro("庚辛健康") + "\n".join(lines) + outro(), labels)

    # 05 table flattened one row per line, cells joined by single spaces (names with spaces), 15 rows
    rows = pick(rng, 15)
    lines = ["功能类型", "SDK名称", "第三方公司名称", "使用目的", "收集个人信息类型", "隐私政策链接", ""]
    for index, row in enumerate(rows):
        group = "工具类 " if index % 5 == 0 else ""
        lines.append(f"{group}{row[0]} {row[1] or ''} {row[2]} {pi_text(row[3], '；')} https://example.com/{index}")
    write(5, "txt", intro("壬癸云盘") + "\n".join(lines) + "\n" + outro(), label(rows, layout="one row per line"))

    # 06 labelled blocks with drifting labels, 32 rows
    rows = pick(rng, 32)
    lines = []
    for index, row in enumerate(rows):
        if index % 8 == 0:
            lines.append(f"\n{index // 8 + 1}.{['统计分析类', '社交类', '支付类', '广告类'][index // 8]}服务\n")
        name_label = "名称：" if index % 7 == 3 else "SDK名称："
        purpose_label = "SDK使用目的：" if index % 2 else "使用目的："
        lines += [f"    {name_label}{row[0]}", f"    {purpose_label}{row[2]}", f"    收集个人信息类型：{pi_text(row[3])}",
                  f"    隐私权限政策链接：https://example.com/{index}", ""]
    write(6, "txt", intro("子丑相机") + "\n".join(lines) + outro(), label(rows, with_company=False, layout="labelled blocks"))

    # 07 entries "功能（SDK名）" followed by labelled lines, with company, 10 rows
    rows = pick(rng, 10)
    lines = []
    for row in rows:
        lines += [f"{row[2][:4]}（{row[0]}）", "", f"第三方名称：{row[1] or '开源项目'}", "", f"使用目的：{row[2]}", "",
                  "处理方式：去标识化处理", "", f"收集个人信息类型：{pi_text(row[3], '，')}", "", "第三方隐私政策或官网链接：https://example.com/x", ""]
    labels = label(rows, layout="function (SDK) entries")
    for entry, row in zip(labels["sdks"], rows):
        entry["company"] = row[1] or "开源项目"
    write(7, "md", "# 寅卯音乐与第三方共享个人信息清单\n\n" + APP_PI_PROSE + "\n\n" + "\n".join(lines), labels)

    # 08 numbered prose: 我们使用了“X”的SDK…获取的用户信息是“…”, 12 rows
    rows = [row for row in pick(rng, 40) if row[3]][:12]
    lines = []
    for index, row in enumerate(rows, 1):
        quoted = "、".join(f"“{item}”" for item in row[3])
        lines.append(f"{index}.     我们使用了“{row[0]}”的SDK，功能是“{row[2]}”，使用到的权限是“存储权限、读取设备信息”，获取的用户信息是{quoted}。")
    write(8, "txt", intro("辰巳交友") + "\n".join(lines) + outro(), label(rows, with_company=False, layout="numbered prose, quoted"))

    # 09 numbered prose, heading + body: 1）X。为了…，我们使用了X，该SDK需要获取您的…，用于…, 10 rows
    rows = pick(rng, 10)
    lines = []
    for index, row in enumerate(rows, 1):
        if row[3]:
            lines.append(f"{index}）{row[0]}。为了{row[2]}，我们使用了{row[0]}，该SDK需要获取您的{pi_text(row[3])}，用于实现相应功能。")
        else:
            lines.append(f"{index}）{row[0]}。为了{row[2]}，我们集成了开源的{row[0]}，该SDK不获取您的个人信息。")
    write(9, "txt", intro("午未银行") + "\n".join(lines) + outro(), label(rows, with_company=False, layout="numbered prose, heading"))

    # 10 markdown bullets with bold names and bold labels, 15 rows
    rows = pick(rng, 15)
    lines = []
    for row in rows:
        lines += [f"*   **{row[0]}**  ", f"    **使用目的：**{row[2]}  ", f"    **数据类型：**{pi_text(row[3])}  ",
                  "    **官网链接：**[https://example.com/](https://example.com/)"]
    write(10, "md", "---\ntitle: 申酉社区隐私政策\n---\n\n# 申酉社区隐私政策\n\n" + APP_PI_PROSE + "\n\n## 第三方SDK\n\n" + "\n".join(lines) + "\n\n## 联系我们\n\n邮件联系。\n",
          label(rows, with_company=False, layout="markdown bullets"))

    # 11 markdown pipe table, 12 rows
    rows = pick(rng, 12)
    lines = ["| SDK名称 | 所属公司 | 用途 | 收集的个人信息 | 链接 |", "|---|---|---|---|---|"]
    lines += [f"| {row[0]} | {row[1] or ''} | {row[2]} | {pi_text(row[3])} | https://example.com |" for row in rows]
    write(11, "md", "# 戌亥外卖隐私政策\n\n" + APP_PI_PROSE + "\n\n## 第三方SDK清单\n\n" + "\n".join(lines) + "\n", label(rows, layout="markdown pipe table"))

    # 12 Word→HTML export: numbered <p> blocks, words cut over <span>s, 10 rows
    rows = pick(rng, 10)
    blocks = []
    for index, row in enumerate(rows, 1):
        name = row[0]
        cut = max(1, len(name) // 2)
        blocks.append(f"<p><span>{index}</span><span>、{html.escape(name[:cut])}</span><span>{html.escape(name[cut:])}</span></p>"
                      f"<p><span>功能/服务：</span><span>{row[2]}</span></p><p><span>信息类型：</span><span>{pi_text(row[3])}</span></p>"
                      f"<p><span>调用权限：无</span></p>" + (f"<p><span>运营公司：{row[1]}</span></p>" if row[1] else "")
                      + "<p><span>官网链接：https://example.com</span></p>")
    write(12, "html", "<html><body><div class='WordSection1'><p><span>接入第三方SDK明细及权限说明</span></p>" + "".join(blocks) + "</div></body></html>",
          label(rows, layout="Word export"))

    # 13 English HTML table, 8 rows
    rows = [row for row in POOL if row[0][0].isascii()][:6] + pick(rng, 2)
    table = html_table(rows, ["SDK name", "Company", "Purpose", "Personal information collected", "Privacy policy link"],
                       lambda r: [r[0], r[1] or "", r[2], ", ".join(r[3]) or "none", "https://example.com"])
    write(13, "htm", f"<html><body><h1>Privacy Policy of Acme Notes</h1><p>We collect your phone number and your precise location when you use nearby search.</p>"
                     f"<h2>Third-party SDK list</h2>{table}</body></html>", label(rows, layout="English html table"))

    # 14 mixed zh/en labelled blocks with English labels, 10 rows
    rows = pick(rng, 10)
    lines = []
    for row in rows:
        lines += [f"SDK Name: {row[0]}", f"Company: {row[1] or ''}".rstrip(), f"Purpose: {row[2]}", f"Personal information: {pi_text(row[3])}", ""]
    labels = label(rows, layout="English labels")
    write(14, "txt", intro("Acme 打车") + "\n".join(lines) + outro(), labels)

    # 15 no SDK list
    write(15, "txt", intro("无清单日历").replace("二、第三方SDK目录\n为实现相关功能，无清单日历接入了以下第三方SDK。", "二、第三方SDK\n第三方SDK的情况请见应用内《第三方SDK目录》链接。")
          + outro(), {"layout": "no SDK list", "sdks": []})

    # 16 GBK plain text, flattened one cell per line with company, 30 rows
    rows = pick(rng, 30)
    lines = ["SDK名称", "所属机构", "Sdk用途", "SDK收集的个人信息类型", "官网链接", "", ""]
    for index, row in enumerate(rows):
        lines += [row[0], row[1] or "开源社区", row[2], pi_text(row[3]), f"https://example.com/{index}", "", ""]
    labels = label(rows, layout="flattened, GBK text")
    for entry, row in zip(labels["sdks"], rows):
        entry["company"] = row[1] or "开源社区"
    write(16, "txt", (intro("甲子地图") + "\n".join(lines) + outro()).encode("gbk"), labels)

    # 17 one two-column table per SDK (label | value), 8 rows
    rows = pick(rng, 8)
    tables = "".join(f"<table><tr><td>SDK名称</td><td>{r[0]}</td></tr><tr><td>提供方</td><td>{r[1] or ''}</td></tr><tr><td>使用目的</td><td>{r[2]}</td></tr>"
                     f"<tr><td>收集个人信息</td><td>{pi_text(r[3])}</td></tr></table><p></p>" for r in rows)
    write(17, "html", f"<html><body><h1>乙丑健身隐私政策</h1><p>{APP_PI_PROSE}</p><h2>第三方SDK说明</h2>{tables}</body></html>",
          label(rows, layout="key-value tables"))

    # 18 a dialog's text: one line per SDK, fields labelled inline and separated by ；
    rows = pick(rng, 20)
    lines = [f"{index}、SDK名称：{row[0]}；使用目的：{row[2]}；收集个人信息：{pi_text(row[3])}；第三方公司：{row[1] or '开源社区'}"
             for index, row in enumerate(rows, 1)]
    labels = label(rows, layout="one line per SDK, inline labels")
    for entry, row in zip(labels["sdks"], rows):
        entry["company"] = row[1] or "开源社区"
    write(18, "txt", "个人信息保护提示\n" + APP_PI_PROSE + "\n我们接入的第三方SDK如下：\n" + "\n".join(lines) + "\n点击“同意”即表示您已阅读。\n", labels)

    # 19 bare labels, each on its own line above its value
    rows = pick(rng, 12)
    lines = []
    for row in rows:
        lines += ["SDK名称", row[0], "使用目的", row[2], "收集个人信息", pi_text(row[3]), ""]
    write(19, "txt", intro("丙寅笔记") + "\n".join(lines) + outro(), label(rows, with_company=False, layout="bare labels over values"))

    # 20 spreadsheet paste: tab-separated, one-line header
    rows = pick(rng, 15)
    lines = ["SDK名称\t公司名称\t使用目的\t收集个人信息类型\t隐私政策链接"]
    lines += [f"{row[0]}\t{row[1] or ''}\t{row[2]}\t{pi_text(row[3])}\thttps://example.com/{index}" for index, row in enumerate(rows)]
    write(20, "txt", intro("丁卯日历") + "\n".join(lines) + "\n" + outro(), label(rows, layout="tab-separated"))

    # 21 a text table with pipes but no markdown separator line
    rows = pick(rng, 10)
    lines = ["SDK名称 | 所属公司 | 用途 | 收集的个人信息"]
    lines += [f"{row[0]} | {row[1] or ''} | {row[2]} | {pi_text(row[3])}" for row in rows]
    write(21, "txt", intro("戊辰天气") + "\n".join(lines) + "\n" + outro(), label(rows, layout="pipe-separated text"))

    # 22 English labelled fields separated by <br> in HTML paragraphs
    rows = [row for row in POOL if row[0][0].isascii()][:5] + pick(rng, 3)
    blocks = "".join(f"<p>SDK: {row[0]}<br>Provider: {row[1] or ''}<br>Purpose of use: {row[2]}<br>"
                     f"Types of personal information: {', '.join(row[3]) or 'none'}</p>" for row in rows)
    write(22, "html", "<html><body><h1>Acme Maps privacy notice</h1><p>We use your precise location to show nearby places.</p>"
                      f"<h2>Third-party SDKs we use</h2>{blocks}</body></html>", label(rows, layout="English labelled paragraphs"))

    # 23 HTML table, GB2312 declared, a title row across the columns, header cells in <td><strong>, PI one per <br>
    rows = [row for row in pick(rng, 40) if row[0].encode("gb2312", "ignore").decode("gb2312") == row[0]][:10]
    body = "".join(f"<tr><td>{row[0]}</td><td>{row[2]}</td><td>{'<br>'.join(row[3]) or '无'}</td><td>{row[1] or ''}</td></tr>" for row in rows)
    page = ("<html><head><meta http-equiv='Content-Type' content='text/html; charset=gb2312'></head><body>"
            "<table><tr><td colspan=4><strong>第三方SDK共享清单</strong></td></tr>"
            "<tr><td><strong>SDK名称</strong></td><td><strong>功能</strong></td><td><strong>收集的个人信息</strong></td>"
            f"<td><strong>SDK提供方</strong></td></tr>{body}</table></body></html>")
    write(23, "html", page.encode("gb2312", errors="strict"),
          label(rows, layout="html table, GB2312, title row, <br> items"))

    # 24 flattened, one cell per line, with the irregularities of text copied from a rendered table: a long PI cell
    # wrapped over two lines, an empty company cell (no line at all), the link cell on two lines, 30 rows
    rows = pick(rng, 30)
    lines = ["SDK名称", "第三方公司名称", "使用目的", "收集个人信息类型", "隐私政策链接", ""]
    labels = label(rows, layout="flattened, wrapped cells, missing cells")
    for index, (row, entry) in enumerate(zip(rows, labels["sdks"])):
        lines.append(row[0])
        if index % 6 == 2 or row[1] is None:
            entry["company"] = None
        else:
            lines.append(row[1])
        lines.append(row[2])
        pi = pi_text(row[3])
        if len(row[3]) >= 3:
            cut = pi.index("、", len(pi) // 2) + 1 if "、" in pi[len(pi) // 2:] else len(pi)
            lines += [pi[:cut], pi[cut:]] if cut < len(pi) else [pi]
        else:
            lines.append(pi)
        lines += [f"官网：https://example.com/{index}", f"隐私政策：https://example.com/{index}/privacy", ""]
    write(24, "txt", intro("己巳读书") + "\n".join(lines) + outro(), labels)

    # 25 bracketed labels (【SDK名称】) with fields the parser does not read (package, version) between them
    rows = pick(rng, 12)
    lines = []
    for index, row in enumerate(rows):
        lines += [f"【SDK名称】{row[0]}", f"【SDK包名】com.example.sdk{index}", "【SDK版本】3.2.1", f"【使用目的】{row[2]}",
                  f"【收集的个人信息】{pi_text(row[3])}", ""]
    write(25, "txt", intro("庚午音乐") + "\n".join(lines) + outro(), label(rows, with_company=False, layout="bracketed labels"))

    # 26 numbered rows with no header line, cells joined by spaces
    rows = [row for row in pick(rng, 40) if row[1]][:15]
    lines = [f"{index} {row[0]} {row[1]} {row[2]} {pi_text(row[3])} https://example.com/{index}" for index, row in enumerate(rows, 1)]
    write(26, "txt", intro("辛未视频") + "附：第三方SDK接入清单\n" + "\n".join(lines) + "\n" + outro(), label(rows, layout="numbered rows, no header"))

    # 27 numbered prose with a colon after the SDK name
    rows = [row for row in pick(rng, 40) if row[3]][:10]
    lines = [f"（{index}）{row[0]}：为了{row[2]}，我们会收集您的{pi_text(row[3])}。" for index, row in enumerate(rows, 1)]
    write(27, "txt", intro("壬申旅行") + "\n".join(lines) + outro(), label(rows, with_company=False, layout="numbered prose, colon"))

    # 28 HTML table with row-spanning names (one SDK over two scenes: its PI is both rows'), row-spanning groups and
    # companies, and a purpose+PI cell spanning two columns
    rows = [row for row in pick(rng, 40) if len(row[3]) >= 2][:12]
    body = []
    labels = label(rows, layout="html table, rowspan/colspan")
    for index, row in enumerate(rows):
        group = f"<td rowspan=4>{['工具', '统计', '广告'][index // 4]}</td>" if index % 4 == 0 else ""
        if index % 3 == 0:  # two scenes, the name and the company span both
            half = len(row[3]) // 2
            body.append(f"<tr>{group}<td rowspan=2>{row[0]}</td><td>{row[2]}</td><td>{'、'.join(row[3][:half])}</td>"
                        f"<td rowspan=2>{row[1] or ''}</td></tr><tr><td>{row[2]}（后台）</td><td>{'、'.join(row[3][half:])}</td></tr>")
        elif index % 3 == 1:
            body.append(f"<tr>{group}<td>{row[0]}</td><td colspan=2>{row[2]}：{'、'.join(row[3])}</td><td>{row[1] or ''}</td></tr>")
        else:
            body.append(f"<tr>{group}<td>{row[0]}</td><td>{row[2]}</td><td>{'、'.join(row[3])}</td><td>{row[1] or ''}</td></tr>")
    page = ("<html><body><h2>第三方SDK目录</h2><table><tr><th>类别</th><th>SDK名称</th><th>使用场景</th><th>收集的个人信息</th>"
            f"<th>公司</th></tr>{''.join(body)}</table></body></html>")
    write(28, "html", page, labels)

    # 29 an SDK list next to the app's own lists that use the same labels: a permission list and a PI list per
    # feature (not SDK rows)
    rows = pick(rng, 10)
    lines = ["二、第三方SDK目录"]
    for row in rows:
        lines += [f"● {row[0]}", f"使用目的：{row[2]}", f"收集的个人信息：{pi_text(row[3])}", f"第三方主体：{row[1] or '开源社区'}", ""]
    lines += ["三、附录一：系统权限申请清单"]
    for index, (permission, use, info) in enumerate([("相机权限", "拍摄头像", "照片"), ("位置权限", "推荐附近门店", "位置信息"),
                                                     ("麦克风权限", "语音输入", "录音")], 1):
        lines += [f"{index}. {permission}", f"权限名称：{permission}", f"使用目的：{use}", f"收集个人信息：{info}", "是否询问：是", ""]
    lines += ["四、附录二：个人信息收集清单"]
    for feature, info in [("注册登录", "手机号码、验证码"), ("附近门店", "位置信息"), ("意见反馈", "联系方式、照片")]:
        lines += [f"功能名称：{feature}", f"收集的个人信息：{info}", ""]
    labels = label(rows, layout="SDK list beside the app's permission and PI lists")
    for entry, row in zip(labels["sdks"], rows):
        entry["company"] = row[1] or "开源社区"
    write(29, "txt", intro("癸酉商城").split("二、第三方SDK目录")[0] + "\n".join(lines) + outro(), labels)

    # 30 English policy, SDKs as a bulleted list after an introducing sentence: "Name (Company): purpose; collects …"
    english = [row for row in POOL if row[0][0].isascii() and row[1] and all(item.isascii() for item in row[3])]
    rows = english[:5]
    lines = ["Privacy Policy of Acme Weather", "We collect your email address when you register and your precise location when you ask for local weather.",
             "Third-party SDKs", "We use the following third-party SDKs:"]
    for row in rows:
        collected = ", ".join(row[3][:-1]) + (" and " if len(row[3]) > 1 else "") + row[3][-1]
        lines.append(f"- {row[0]} ({row[1]}): used for {row[2]}; collects {collected}.")
    lines += ["", "Contact", "Write to privacy@example.com."]
    write(30, "txt", "\n".join(lines) + "\n", label(rows, layout="English bulleted list"))

    # 31 flattened text of a rendered HTML table: rows set apart by blank lines, a PI cell's items one per indented
    # line, some rows without a purpose line, 25 rows
    rows = pick(rng, 25)
    lines = ["SDK名称", "SDK提供方", "使用目的", "收集的个人信息", "", ""]
    for index, row in enumerate(rows):
        lines.append(row[0])
        lines.append(row[1] or "开源项目")
        if index % 5 != 4:
            lines.append(row[2])
        if row[3]:
            lines.append(row[3][0])
            lines += ["                    " + item for item in row[3][1:]]
        else:
            lines.append("无")
        lines += ["", ""]
    labels = label(rows, layout="rendered table text, indented PI lines")
    for entry, row in zip(labels["sdks"], rows):
        entry["company"] = row[1] or "开源项目"
    write(31, "txt", intro("甲戌相册") + "\n".join(lines) + outro(), labels)

    # 32 numbered name lines, each field a labelled paragraph with blank lines between, a link whose label ends in a
    # remark and whose URL is on its own line, one row without a company, a package in a name, 20 rows
    rows = pick(rng, 20)
    lines = ["# 第三方SDK信息收集说明"]
    labels = label(rows, layout="numbered names over blank-separated labelled paragraphs")
    for index, (row, entry) in enumerate(zip(rows, labels["sdks"]), 1):
        name = f"{row[0]}(com.example.lib{index})" if index % 7 == 0 else row[0]
        entry["name"] = name
        lines += [f"{index}、{name}", "", f"SDK用途：{row[2]}", "", f"收集个人信息类型：{pi_text(row[3])}", "", "收集方式：SDK采集", ""]
        if row[1]:
            lines += [f"第三方机构名称：{row[1]}", ""]
        lines += ["第三方隐私政策链接，仅供参考：", "", f"https://example.com/{index}/privacy", "", "", ""]
    write(32, "md", "\n".join(lines), labels)

    # 33 labels qualified before or after their field (第三方SDK提供方的公司名称, 使用目的及功能场景), 10 rows
    rows = pick(rng, 10)
    lines = ["# 第三方SDK清单", "我们对接入的相关第三方SDK在以下清单中列明。", ""]
    for row in rows:
        lines += [f"第三方SDK名称：{row[0]}", f"第三方SDK提供方的公司名称：{row[1] or '开源社区'}", f"使用目的及功能场景：{row[2]}",
                  f"处理的个人信息类型：{pi_text(row[3])}", "第三方SDK隐私政策链接：https://example.com/p", "处理方式：去标识化处理", ""]
    labels = label(rows, layout="qualified labels")
    for entry, row in zip(labels["sdks"], rows):
        entry["company"] = row[1] or "开源社区"
    write(33, "md", "\n".join(lines), labels)

    # 34 HTML: each SDK an <h5> name and a <p> of <br>-separated labelled lines, two purpose-like fields (使用目的,
    # 使用场景) and two links in each, the company labelled 合作方主体, 12 rows
    rows = pick(rng, 12)
    blocks = []
    for row in rows:
        company = f"合作方主体：{row[1]}<br />" if row[1] else ""
        blocks.append(f"<h5>{html.escape(row[0])}</h5><p>涉及个人信息：{pi_text(row[3], '，')}<br />使用目的：{row[2]}<br />"
                      f"使用场景：在您使用相关功能时<br />收集方式：SDK采集<br />{company}合作方官网链接：https://example.com/<br />"
                      "合作方隐私链接：https://example.com/privacy</p><br />")
    write(34, "html", "<html><body><h3>第三方SDK清单</h3><hr />" + "".join(blocks) + "</body></html>",
          label(rows, layout="HTML headings over <br> labelled lines"))


if __name__ == "__main__":
    main()
