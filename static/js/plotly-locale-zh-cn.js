/* Plotly's zh-CN locale, registered with the plotly.js this site serves (no CDN).
   The dictionary and the date formats are those of plotly.js's own lib/locales/zh-cn.js
   (MIT licence), limited to the chart controls this site shows. app.js sets config.locale to
   "zh-CN" on a Chinese page, so that axes, hovers and the mode bar read in Chinese. */
(function () {
  "use strict";
  if (!window.Plotly || !window.Plotly.register) return;
  window.Plotly.register({
    moduleType: "locale",
    name: "zh-CN",
    dictionary: {
      "Autoscale": "自动缩放",
      "Box Select": "矩形框选",
      "Compare data on hover": "悬停时比较数据",
      "Double-click on legend to isolate one trace": "双击图例来突显对应轨迹",
      "Double-click to zoom back out": "双击返回缩小显示",
      "Download plot as a png": "下载图表为PNG格式",
      "Download plot": "下载图表",
      "Lasso Select": "套索选择",
      "Pan": "平移",
      "Produced with Plotly.js": "由Plotly.js生成",
      "Reset": "重置",
      "Reset axes": "重置轴",
      "Reset view": "重置视图",
      "Reset views": "重置视图",
      "Show closest data on hover": "悬停时显示最近的数据",
      "Snapshot succeeded": "生成快照成功",
      "Sorry, there was a problem downloading your snapshot!": "抱歉，下载快照出现问题！",
      "Taking snapshot - this may take a few seconds": "正在生成快照 - 可能需要几秒钟",
      "Toggle Spike Lines": "切换显示数据点辅助线",
      "Toggle show closest data on hover": "切换悬停时显示最近的数据点",
      "Zoom": "缩放",
      "Zoom in": "放大",
      "Zoom out": "缩小",
      "trace": "踪迹:"
    },
    format: {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      months: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
      shortMonths: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
      date: "%Y-%m-%d"
    }
  });
})();
