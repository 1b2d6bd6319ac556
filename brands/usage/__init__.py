"""Usage of brands against their quotas: levels, the usage page, snapshots, the staff monitor,
quota editing and metrics. Reads go through the cache service; nothing here talks to Redis.

    levels.py     the one percentage, the thresholds and level names; BrandUsage; brands_usage()
    report.py     the usage page's live figures (UsageSummary)
    analysis.py   the usage page's analysis section: histograms, biggest keys, namespaces, prefixes
    chart.py      the usage page's chart from UsageSnapshot rows
    snapshots.py  recording and pruning UsageSnapshot rows (record_usage)
    forecast.py   when a brand reaches its key limit at the trend of its last 7 days of snapshots
    scheduler.py  recording snapshots every N seconds inside the development server (make run)
    monitor.py    the staff quota monitor's rows, sorting, paging, filters and CSV
    quota.py      the staff quota editor's form and write
    metrics.py    the Prometheus exposition (/metrics)
    scripts.py    script executions by outcome and their p50 / p95 duration (usage page, /metrics)
    ops.py        operations per minute, hit ratio and hot keys (usage page)
"""

from brands.usage.analysis import AnalysisSection, PrefixAnswer, analysis_section, prefix_answer
from brands.usage.chart import DEFAULT_PERIOD, MAX_CHART_POINTS, PERIOD_LABELS, UsageChart, usage_chart
from brands.usage.forecast import Forecast, brand_forecast, time_left_words
from brands.usage.levels import (
    CRITICAL_PERCENT,
    LEVEL_MEANINGS,
    LEVEL_WORDS,
    OVER_PERCENT,
    WARNING_PERCENT,
    BrandUsage,
    bar_percent,
    brands_usage,
    level_word,
    percent_text,
    percent_used,
    percent_value,
    usage_level,
)
from brands.usage.metrics import metrics_text
from brands.usage.monitor import MonitorPage, MonitorQuery, QuotaRow, quota_csv, quota_page, quota_rows
from brands.usage.ops import OpsReport, count_form_refusals, ops_report
from brands.usage.quota import QUOTA_FIELDS, QuotaSettingsForm, quota_settings_update
from brands.usage.report import UsageSummary, usage_summary
from brands.usage.scripts import OUTCOME_LABELS, ScriptSummary, script_summaries, script_summary
from brands.usage.snapshots import SnapshotTotals, usage_snapshots_prune, usage_snapshots_record

__all__ = [
    "AnalysisSection",
    "PrefixAnswer",
    "analysis_section",
    "prefix_answer",
    "CRITICAL_PERCENT",
    "LEVEL_MEANINGS",
    "LEVEL_WORDS",
    "OVER_PERCENT",
    "DEFAULT_PERIOD",
    "MAX_CHART_POINTS",
    "OUTCOME_LABELS",
    "PERIOD_LABELS",
    "QUOTA_FIELDS",
    "WARNING_PERCENT",
    "BrandUsage",
    "Forecast",
    "MonitorPage",
    "MonitorQuery",
    "OpsReport",
    "QuotaRow",
    "QuotaSettingsForm",
    "ScriptSummary",
    "SnapshotTotals",
    "UsageChart",
    "UsageSummary",
    "bar_percent",
    "brand_forecast",
    "count_form_refusals",
    "level_word",
    "brands_usage",
    "metrics_text",
    "ops_report",
    "percent_text",
    "percent_used",
    "percent_value",
    "quota_csv",
    "quota_page",
    "quota_rows",
    "quota_settings_update",
    "script_summaries",
    "script_summary",
    "time_left_words",
    "usage_chart",
    "usage_level",
    "usage_snapshots_prune",
    "usage_snapshots_record",
    "usage_summary",
]
