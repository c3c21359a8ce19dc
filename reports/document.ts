/**
 * Report documents from a title, a table of facts and a list of charts: a
 * PDF (pdfkit; a first page of facts, then one chart per page) and a
 * self-contained HTML page (charts inlined as base64 PNG).
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import PDFDocument from 'pdfkit';

export interface ReportSection {
  heading: string;
  rows: [string, string][];
}

export interface ReportChart {
  file: string;
  title: string;
  png: Buffer;
}

export interface ReportDoc {
  title: string;
  summary: string;
  sections: ReportSection[];
  charts: ReportChart[];
}

export function writePdf(doc: ReportDoc, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const pdf = new PDFDocument({ size: 'A4', layout: 'landscape', margin: 40, info: { Title: doc.title, Creator: 'ol-lab' } });
    const out = createWriteStream(path);
    out.on('finish', () => resolve());
    out.on('error', reject);
    pdf.pipe(out);
    pdf.font('Helvetica-Bold').fontSize(18).text(doc.title);
    pdf.moveDown(0.3).font('Helvetica').fontSize(10.5).text(doc.summary);
    const bottom = () => pdf.page.height - pdf.page.margins.bottom;
    // a row's height at 9 pt: its label and its value side by side
    const rowHeight = ([k, v]: [string, string]) => {
      pdf.fontSize(9);
      return Math.max(pdf.font('Helvetica-Bold').heightOfString(k, { width: 190 }), pdf.font('Helvetica').heightOfString(v, { width: 560 }));
    };
    for (const s of doc.sections) {
      // a heading stays with its first row; a row is never split over two pages
      const first = s.rows[0];
      pdf.moveDown(0.6);
      if (pdf.y + 20 + (first ? rowHeight(first) : 0) > bottom()) pdf.addPage();
      pdf.font('Helvetica-Bold').fontSize(12).text(s.heading, 40);
      pdf.font('Helvetica').fontSize(9);
      for (const row of s.rows) {
        if (pdf.y + rowHeight(row) > bottom()) pdf.addPage();
        const y = pdf.y;
        pdf.font('Helvetica-Bold').text(row[0], 40, y, { width: 190 });
        const yk = pdf.y;
        pdf.font('Helvetica').text(row[1], 235, y, { width: 560 });
        pdf.y = Math.max(yk, pdf.y);
        pdf.x = 40;
      }
    }
    for (const c of doc.charts) {
      pdf.addPage();
      pdf.font('Helvetica-Bold').fontSize(13).text(c.title);
      pdf.image(c.png, 40, 70, { fit: [760, 475] });
    }
    pdf.end();
  });
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function writeHtml(doc: ReportDoc, path: string): void {
  const sections = doc.sections.map((s) => `<h2>${esc(s.heading)}</h2>\n<table>${s.rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`).join('\n');
  const charts = doc.charts.map((c) => `<figure><img alt="${esc(c.title)}" src="data:image/png;base64,${c.png.toString('base64')}"><figcaption>${esc(c.title)}</figcaption></figure>`).join('\n');
  writeFileSync(path, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(doc.title)}</title>
<style>
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.5em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eee;vertical-align:top;font-size:.92em}
th{width:16em}figure{margin:2em 0}img{width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
.summary{background:#f5f7fa;padding:.8em 1em;border-left:4px solid #1f77b4}
</style></head><body>
<h1>${esc(doc.title)}</h1>
<p class="summary">${esc(doc.summary)}</p>
${sections}
${charts}
</body></html>
`);
}
