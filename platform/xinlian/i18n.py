"""The one message catalogue: every user-facing text in zh-CN first, English second."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MESSAGES: dict[str, tuple[str, str]] = {
    # app and navigation
    "app.name": ("心联 县域医共体心电协同平台", "Xinlian county ECG network"),
    "nav.worklist": ("心电工作列表", "ECG worklist"),
    "nav.referrals": ("绿色通道转诊", "Green-channel transfers"),
    "nav.audit": ("转诊时间审计", "Transfer time audit"),
    "nav.flag_audit": ("提示准确性", "Flag accuracy"),
    "nav.fleet": ("心电设备", "ECG carts"),
    "nav.admin": ("机构与用户", "Organizations and users"),
    "nav.logout": ("退出", "Log out"),
    "nav.language": ("English", "中文"),
    # login
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码错误", "Wrong username or password"),
    # roles
    "role.township_doctor": ("乡镇卫生院医生", "Township doctor"),
    "role.cardiologist": ("心内科医生", "Cardiologist"),
    "role.referral_coordinator": ("转诊办公室", "Referral coordinator"),
    "role.admin": ("管理员", "Administrator"),
    # worklist and viewer
    "worklist.title": ("心电工作列表", "ECG worklist"),
    "worklist.live": ("实时更新", "Live"),
    "worklist.empty": ("暂无心电图", "No ECGs yet"),
    "col.received": ("接收时间", "Received"),
    "col.acquired": ("采集时间", "Acquired"),
    "col.org": ("来源机构", "From"),
    "col.patient": ("患者", "Patient"),
    "col.hr": ("心率", "HR"),
    "col.flags": ("提示", "Flags"),
    "col.status": ("状态", "Status"),
    "col.referral": ("绿色通道", "Green channel"),
    "col.step": ("步骤", "Step"),
    "col.time": ("时间", "Time"),
    "col.by": ("操作人", "By"),
    "status.received": ("待分析", "Awaiting analysis"),
    "status.analysed": ("已分析", "Analysed"),
    "status.reviewed": ("已审核", "Reviewed"),
    "ecg.title": ("十二导联心电图", "12-lead ECG"),
    "ecg.measurements": ("测量值", "Measurements"),
    "ecg.flags": ("自动分析提示", "Automated flags"),
    "ecg.no_flags": ("未见急性异常提示", "No acute findings flagged"),
    "ecg.evidence": ("依据", "Evidence"),
    "ecg.algorithm": ("算法版本", "Algorithm version"),
    "ecg.unreadable": ("心电图质量差，请重新采集", "Poor quality ECG: repeat the ECG"),
    "ecg.preliminary": ("乡镇医生初步判读", "Township doctor's preliminary read"),
    "ecg.fmc": ("首次医疗接触", "First medical contact"),
    "ecg.onset": ("症状发作", "Symptom onset"),
    "ecg.chest_pain": ("胸痛", "Chest pain"),
    "review.title": ("心内科审核", "Cardiologist review"),
    "review.confirm": ("确认", "Confirm"),
    "review.reject": ("否决", "Reject"),
    "review.report": ("报告", "Report"),
    "review.confirmed": ("已确认", "Confirmed"),
    "review.rejected": ("已否决", "Rejected"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "unknown": ("未知", "unknown"),
    # measurements
    "m.heart_rate_bpm": ("心率 (次/分)", "Heart rate (bpm)"),
    "m.p_ms": ("P 波时限 (ms)", "P duration (ms)"),
    "m.pr_ms": ("PR 间期 (ms)", "PR (ms)"),
    "m.qrs_ms": ("QRS 时限 (ms)", "QRS (ms)"),
    "m.qt_ms": ("QT (ms)", "QT (ms)"),
    "m.qtc_bazett_ms": ("QTc Bazett (ms)", "QTc Bazett (ms)"),
    "m.qtc_fridericia_ms": ("QTc Fridericia (ms)", "QTc Fridericia (ms)"),
    "m.axis_deg": ("电轴 (°)", "Axis (°)"),
    "m.st_j_mv": ("J 点 ST (mV)", "ST at J (mV)"),
    # flags (codes are stable, set by ecg_relay.analysis)
    "flag.STEMI_INFERIOR": ("疑似下壁 STEMI", "Suspected inferior STEMI"),
    "flag.STEMI_ANTERIOR": ("疑似前壁/前间壁 STEMI", "Suspected anterior/septal STEMI"),
    "flag.STEMI_LATERAL": ("疑似侧壁 STEMI", "Suspected lateral STEMI"),
    "flag.STE_AVR_DIFFUSE_STD": (
        "aVR 导联 ST 抬高伴广泛 ST 压低",
        "ST elevation in aVR with widespread ST depression",
    ),
    "flag.POSTERIOR_PATTERN": (
        "疑似后壁心梗 (V1–V3 ST 压低)",
        "Posterior pattern (ST depression V1–V3)",
    ),
    "flag.VT": ("室性心动过速", "Ventricular tachycardia"),
    "flag.VF_ASYSTOLE": ("室颤或心脏停搏", "Ventricular fibrillation or asystole"),
    "flag.BRADY_SEVERE": ("严重心动过缓或长间歇", "Severe bradycardia or pause"),
    "flag.AVB3": ("疑似三度房室传导阻滞", "Suspected complete heart block"),
    "flag.ST_DEPRESSION": ("ST 段压低", "ST depression"),
    "flag.AF": ("心房颤动", "Atrial fibrillation"),
    "flag.AFL": ("心房扑动", "Atrial flutter"),
    "flag.QTC_LONG": ("QTc 延长 (>500 ms)", "Long QTc (>500 ms)"),
    "flag.QTC_PROLONGED": (
        "QTc 延长 (男 ≥450, 女 ≥460 ms)",
        "Prolonged QTc (men ≥450, women ≥460 ms)",
    ),
    "flag.TACHY_SEVERE": ("心率 >150 次/分", "Heart rate >150/min"),
    "flag.LBBB": (
        "左束支传导阻滞 (STEMI 分区标准不适用，见 Sgarbossa 评估)",
        "LBBB (STEMI territory criteria do not apply; see the Sgarbossa assessment)",
    ),
    "flag.RBBB": ("右束支传导阻滞", "Right bundle branch block"),
    "flag.STEMI_SGARBOSSA": (
        "疑似急性心梗（左束支阻滞/起搏心律，Sgarbossa 标准）",
        "Suspected acute MI through LBBB or pacing (Sgarbossa criteria)",
    ),
    "flag.STE_PROBABLE_LVH": (
        "ST段抬高，可能为左室肥厚所致（请对比既往心电图）",
        "ST elevation, probably due to LVH (compare with a previous ECG)",
    ),
    "flag.PACED": ("起搏心律", "Paced rhythm"),
    "flag.SINUS_BRADY": ("窦性心动过缓", "Sinus bradycardia"),
    "flag.SINUS_TACHY": ("窦性心动过速", "Sinus tachycardia"),
    "flag.AVB1": ("一度房室传导阻滞", "First-degree AV block"),
    "flag.LOW_VOLTAGE": ("低电压", "Low voltage"),
    "flag.POOR_QUALITY": ("部分导联质量差", "Poor quality leads"),
    "flag.REPEAT_ECG": ("心电图无法判读，请重新采集", "Unreadable ECG: repeat the ECG"),
    "severity.critical": ("危急", "Critical"),
    "severity.urgent": ("紧急", "Urgent"),
    "severity.info": ("提示", "Info"),
    # referrals
    "referral.title": ("绿色通道转诊", "Green-channel transfer"),
    "referral.opened_banner": ("已开启绿色通道", "Green channel opened"),
    "referral.none": ("暂无转诊", "No transfers"),
    "referral.stamp": ("记录", "Stamp"),
    "referral.at": ("发生时间 (留空为现在)", "Time (blank = now)"),
    "referral.note": ("备注", "Note"),
    "state.opened": ("已开启", "Opened"),
    "state.confirmed": ("已确认", "Confirmed"),
    "state.departed": ("已出发", "Departed"),
    "state.arrived": ("已到院", "Arrived"),
    "state.admitted": ("已收治", "Admitted"),
    "state.cancelled": ("已取消", "Cancelled"),
    "step.open": ("开启绿色通道", "Green channel opened"),
    "step.confirm": ("心内科确认", "Cardiologist confirmed"),
    "step.depart": ("救护车出发", "Ambulance departed"),
    "step.arrive": ("到达总院", "Arrived at county hospital"),
    "step.admit": ("收治入院", "Admitted"),
    "step.cancel": ("取消", "Cancel"),
    # audit of times
    "audit.title": ("转诊时间审计", "Transfer time audit"),
    "audit.door_to_admission": ("首诊到收治 (分钟)", "Door-to-admission (min)"),
    "audit.target": ("目标", "Target"),
    "audit.within": ("达标", "Within target"),
    "audit.median": ("中位数", "Median"),
    "audit.p90": ("第 90 百分位", "90th percentile"),
    "audit.completed": ("已完成", "Completed"),
    "audit.count": ("总数", "Total"),
    "audit.segments": ("分段时间 (分钟)", "Segments (min)"),
    "flags.title": ("自动分析提示的准确性", "Accuracy of the automated flags"),
    "flags.explain": (
        "按算法版本统计：每条提示以心内科医生最后一次审核结论为准；阳性预测值 = 确认 / 已审核。",
        "Per algorithm version; each flag counts by the cardiologist's latest verdict; "
        "PPV = confirmed / reviewed.",
    ),
    "flags.version": ("算法版本", "Algorithm version"),
    "flags.flag": ("提示", "Flag"),
    "flags.raised": ("提示次数", "Raised"),
    "flags.reviewed": ("已审核", "Reviewed"),
    "flags.confirmed": ("确认", "Confirmed"),
    "flags.rejected": ("否定", "Rejected"),
    "flags.ppv": ("阳性预测值 (95% CI)", "PPV (95% CI)"),
    "flags.none": ("此期间没有自动分析提示", "No flags raised in this period"),
    "seg.ecg_to_open": ("心电到开通", "ECG to open"),
    "seg.open_to_confirm": ("开通到确认", "Open to confirm"),
    "seg.open_to_depart": ("开通到出发", "Open to depart"),
    "seg.depart_to_arrive": ("转运", "Transport"),
    "seg.arrive_to_admit": ("到院到收治", "Door to admission"),
    # generic errors
    "error.not_found": ("未找到", "Not found"),
    "error.forbidden": ("无权访问", "Access denied"),
    "error.unauthenticated": ("请先登录", "Please log in"),
    "error.invalid": ("输入无效", "Invalid input"),
    "error.invalid_transition": (
        "当前状态不允许此步骤",
        "This step is not allowed in the current state",
    ),
    "error.bad_time": ("时间无效", "Invalid time"),
    "error.conflict": ("已存在", "Already exists"),
    "admin.orgs": ("机构", "Organizations"),
    "admin.users": ("用户", "Users"),
    "admin.code": ("代码", "Code"),
    "admin.name": ("名称", "Name"),
    "admin.kind": ("类型", "Kind"),
    "admin.parent": ("上级机构", "Parent"),
    "admin.role": ("角色", "Role"),
    "admin.add": ("添加", "Add"),
    "kind.central_hospital": ("县医院（总院）", "Central hospital"),
    "kind.township_centre": ("乡镇卫生院", "Township health centre"),
    "kind.village_clinic": ("村卫生室", "Village clinic"),
    "fleet.serial": ("序列号", "Serial number"),
    "fleet.vendor": ("厂商", "Vendor"),
    "fleet.model": ("型号", "Model"),
    "fleet.last_seen": ("最近在线", "Last seen"),
    "fleet.last_upload": ("最近上传", "Last upload"),
    "fleet.offset": ("时钟偏差", "Clock offset"),
    "fleet.outbox": ("待发送", "Outbox"),
    "fleet.disk": ("剩余磁盘", "Disk free"),
    "fleet.alerts": ("告警", "Alerts"),
    "fleet.revoked": ("已吊销", "Revoked"),
    "fleet.not_enrolled": ("未注册", "Not enrolled"),
    "fleet.new_code": ("生成注册码", "New enrollment code"),
    "fleet.revoke": ("吊销", "Revoke"),
    "fleet.rotate": ("更换凭证", "Rotate credential"),
    "fleet.set_status": ("设置状态", "Set status"),
    "fleet.move": ("调拨", "Move"),
    "fleet.add": ("登记心电设备", "Register an ECG cart"),
    "fleet.code_once": ("一次性注册码（只显示一次）", "One-time enrollment code (shown once)"),
    "fleet.expires": ("有效期至", "expires"),
    "device.active": ("在用", "Active"),
    "device.maintenance": ("维修中", "Maintenance"),
    "device.retired": ("已停用", "Retired"),
    "alert.clock_offset": ("时钟偏差过大", "Clock offset"),
    "alert.silent": ("长时间离线", "Silent"),
    "demo.banner": ("演示数据：仅用于展示", "Demo data: for demonstration only"),
}


def t(key: str, lang: str = DEFAULT_LANG) -> str:
    """The text for ``key`` in ``lang``; the key itself when missing (visible, never a crash)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def both(key: str) -> tuple[str, str]:
    pair = MESSAGES.get(key)
    return pair if pair is not None else (key, key)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A UTC timestamp shown in Asia/Shanghai, the way staff read clocks on the ward."""
    if value is None:
        return "—"
    return value.astimezone(LOCAL_TZ).strftime(fmt)
