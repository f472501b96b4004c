"""The diff report's page furniture: its style sheet and the script that filters and pages
the sample cards in the browser.

The samples travel as one JSON document in the page (`<script type="application/json"
id="diff-data">`); the script builds only the current page's cards (`pageSize` of them),
so the DOM stays small whatever the number of samples. Model text goes in with
`textContent`, never as markup. Filters and pages can be chosen from the address too
(`report.html#filter=only:1&page=2`, which clicks the filter's button), and the body
carries `data-visible-count`, `data-page`, `data-images-loaded` and `data-js-errors` for
the browser test.
"""

from __future__ import annotations

DIFF_CSS = """
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #ddd;border-radius:6px;padding:6px;width:332px}
.card img,.card svg{display:block;max-width:320px}.card p{margin:4px 0;font-size:12px}
.run{margin:4px 0;font-size:12px;border-left:4px solid #999;padding-left:6px}.run pre{font-size:11px;margin:2px 0 0;color:#444}
.sw{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle}
.filters button{margin:2px 4px 2px 0;padding:3px 8px;border:1px solid #888;border-radius:4px;background:#fff;cursor:pointer}
.filters button.on{background:#333;color:#fff}.filters button[disabled]{opacity:.4;cursor:default}
.pager{margin:10px 0}.pager button{margin-right:6px}
pre{white-space:pre-wrap;word-break:break-word;margin:0;max-width:60em}
"""

DIFF_JS = r"""
(function(){
var errs=0;
window.addEventListener('error',function(){errs+=1;document.body.setAttribute('data-js-errors',String(errs));});
document.body.setAttribute('data-js-errors','0');
var D=JSON.parse(document.getElementById('diff-data').textContent);
var state={filter:'*',page:0};
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e;}
function svgEl(tag,attrs){var e=document.createElementNS('http://www.w3.org/2000/svg',tag);
  for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}
function rect(b,colour,w){return svgEl('rect',{x:Math.min(b[0],b[2]),y:Math.min(b[1],b[3]),width:Math.abs(b[2]-b[0]),
  height:Math.abs(b[3]-b[1]),fill:'none',stroke:colour,'stroke-width':w,'vector-effect':'non-scaling-stroke'});}
function boxes(s){ // samples without a picture: their boxes on a grey canvas
  var side=Math.max(s.W,s.H,1),k=Math.min(1,320/side);
  var svg=svgEl('svg',{viewBox:'0 0 '+s.W+' '+s.H,width:Math.round(s.W*k),height:Math.round(s.H*k),role:'img'});
  svg.appendChild(svgEl('rect',{x:0,y:0,width:s.W,height:s.H,fill:'#c8c8c8'}));
  s.gt.forEach(function(b){svg.appendChild(rect(b,'#00c800',3));});
  s.b.forEach(function(bs,i){bs.forEach(function(b){svg.appendChild(rect(b,D.runs[i].colour,2+(D.runs.length-1-i)));});});
  return svg;}
function card(s){
  var c=el('div','card');c.setAttribute('data-sample',s.id);
  if(s.img>=0){var im=el('img');im.alt='sample '+s.id;im.src=D.images[s.img];c.appendChild(im);}else{c.appendChild(boxes(s));}
  var head=el('p');head.appendChild(el('b',null,s.id));head.appendChild(document.createTextNode(' \u00b7 spread '+s.d.toFixed(3)));
  c.appendChild(head);
  if(s.e)c.appendChild(el('p',null,'\u201c'+s.e+'\u201d'));
  D.runs.forEach(function(r,i){
    var row=el('div','run');row.style.borderLeftColor=r.colour;
    row.appendChild(el('b',null,r.label));
    var what=' '+D.score+' '+s.s[i].toFixed(3)+(s.h[i]?' hit':' miss')+' \u00b7 '+s.st[i]+(s.er[i]?' \u00b7 '+s.er[i]:'');
    row.appendChild(document.createTextNode(what));
    if(s.t[i]!==null)row.appendChild(el('pre',null,s.t[i]));else row.appendChild(el('pre',null,'(raw text not available)'));
    c.appendChild(row);});
  return c;}
function current(){return state.filter==='*'?D.samples:D.samples.filter(function(s){return s.g.indexOf(state.filter)>=0;});}
function render(){
  var items=current(),pages=Math.max(1,Math.ceil(items.length/D.pageSize));
  state.page=Math.max(0,Math.min(state.page,pages-1));
  var box=document.getElementById('cards');box.textContent='';
  items.slice(state.page*D.pageSize,(state.page+1)*D.pageSize).forEach(function(s){box.appendChild(card(s));});
  document.getElementById('shown').textContent=items.length+' sample(s) \u00b7 page '+(state.page+1)+' of '+pages;
  document.body.setAttribute('data-visible-count',String(items.length));
  document.body.setAttribute('data-page',String(state.page+1));
  Array.prototype.forEach.call(document.querySelectorAll('[data-filter]'),function(b){
    b.className=b.getAttribute('data-filter')===state.filter?'on':'';});
  document.getElementById('prev').disabled=state.page===0;document.getElementById('next').disabled=state.page>=pages-1;}
Array.prototype.forEach.call(document.querySelectorAll('[data-filter]'),function(b){
  b.addEventListener('click',function(){state.filter=b.getAttribute('data-filter');state.page=0;render();});});
document.getElementById('prev').addEventListener('click',function(){state.page-=1;render();});
document.getElementById('next').addEventListener('click',function(){state.page+=1;render();});
render();
var want={};location.hash.replace(/^#/,'').split('&').forEach(function(kv){var p=kv.split('=');
  if(p.length===2)want[decodeURIComponent(p[0])]=decodeURIComponent(p[1]);});
if(want.filter){var b=document.querySelector('[data-filter="'+want.filter.replace(/"/g,'')+'"]');if(b)b.click();}
if(want.page){state.page=parseInt(want.page,10)-1||0;render();}
window.addEventListener('load',function(){var im=Array.prototype.slice.call(document.images);
  var ok=im.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;
  document.body.setAttribute('data-images-loaded',ok+'/'+im.length);});
})();
"""
